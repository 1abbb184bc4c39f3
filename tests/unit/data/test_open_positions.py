"""The open positions the Overview, Control and Kill switch pages show: each valued at its
pair's newest close, once, whatever timeframes the candle store holds."""

from datetime import UTC, datetime, timedelta

from pytest import approx
from sqlalchemy import insert

from data import queries
from data.store.models import Candle, Order, Position

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _candle(pair: str, timeframe: str, ts: datetime, close: float) -> dict:
    return {"pair": pair, "timeframe": timeframe, "ts": ts, "open": close, "high": close,
            "low": close, "close": close, "volume": 1.0}  # fmt: skip


def _open(engine, pair: str, entry_price: float) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Order).values(
            id=1, client_order_id="o-1", ts=T0, pair=pair, side="buy", amount=2.0,
            price=entry_price, status="filled",
        ))  # fmt: skip
        conn.execute(insert(Position).values(
            pair=pair, amount=2.0, entry_price=entry_price, entry_fee=1.0, entry_ts=T0,
            stop_loss=90.0, take_profit=120.0, entry_order_id=1,
        ))  # fmt: skip


def test_a_position_is_valued_at_its_pairs_newest_close(store):
    engine, _ = store
    _open(engine, "BTC/USDT", 100.0)
    with engine.begin() as conn:
        conn.execute(insert(Candle), [
            _candle("BTC/USDT", "5m", T0 + timedelta(minutes=5 * i), 100.0 + i) for i in range(5)
        ] + [_candle("ETH/USDT", "5m", T0 + timedelta(hours=1), 7.0)])  # fmt: skip
    positions = queries.open_positions(engine)
    assert positions["last_price"].tolist() == [104.0]
    assert positions["unrealised_pnl"].iloc[0] == approx(2.0 * 104.0 - (2.0 * 100.0 + 1.0))


def test_a_position_shows_once_when_two_timeframes_end_at_the_same_time(store):
    engine, _ = store
    _open(engine, "BTC/USDT", 100.0)
    newest = T0 + timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(insert(Candle), [
            _candle("BTC/USDT", "5m", newest, 110.0), _candle("BTC/USDT", "1h", newest, 110.0),
            _candle("BTC/USDT", "1h", T0, 95.0),
        ])  # fmt: skip
    positions = queries.open_positions(engine)
    assert positions["pair"].tolist() == ["BTC/USDT"]
    assert positions["last_price"].tolist() == [110.0]


def test_a_position_without_candles_is_valued_at_its_entry_price(store):
    engine, _ = store
    _open(engine, "SOL/USDT", 150.0)
    assert queries.open_positions(engine)["last_price"].tolist() == [150.0]
