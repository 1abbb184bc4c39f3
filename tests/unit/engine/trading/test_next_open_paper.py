"""Paper trading fills as a real exchange would: an order sent the moment a candle closes
fills at the open of the candle forming then (the feed quotes it without showing the rest
of that candle), stops and take-profits at their own level; the auditor measures slippage
from that open, so a market that moved between the decision's close and the next open is
no audit violation. broker.fill_at = "close" fills at the decision's close."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from agents.auditor import AuditLimits, audit_fill
from config import load_config
from data.candles.store import CandleStore
from data.store.db import as_utc, make_engine, make_session_factory
from data.store.models import Decision, Fill, Order
from data.types import OpenPosition, PortfolioView
from engine.clock import FastForwardClock
from engine.trading.account import Account
from engine.trading.execution import send
from engine.venues.paper import PaperExchange, make_exchange_factory
from engine.venues.replay import ReplayFeed
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed
from engine.wiring import build_gate
from risk import OrderIntent
from tests.support.gapped import store_gapped
from tests.support.runs import START, run_ticks

STEP = timedelta(minutes=5)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SETTINGS = load_config(None)
FEE, SLIP = SETTINGS.broker.fee_rate, SETTINGS.broker.slippage_rate
# Candle i opens at T0 + i * 5m; no open is the close before it. Candle 4 is missing.
OPENS = [100.0, 100.6, 101.3, 101.9, None, 102.8, 102.0]
CLOSES = [100.4, 101.0, 101.6, 102.2, None, 102.5, 101.8]


@pytest.fixture
def feed(tmp_path) -> ReplayFeed:
    rows = [(T0 + i * STEP, o, c) for i, (o, c) in enumerate(zip(OPENS, CLOSES, strict=True)) if o]
    index = pd.DatetimeIndex([ts for ts, _, _ in rows], name="ts")
    opens, closes = [o for _, o, _ in rows], [c for _, _, c in rows]
    candles = pd.DataFrame(
        {
            "open": opens,
            "high": [max(o, c) + 0.5 for o, c in zip(opens, closes, strict=True)],
            "low": [min(o, c) - 0.5 for o, c in zip(opens, closes, strict=True)],
            "close": closes,
            "volume": 1.0,
        },
        index=index,
    )
    store = CandleStore(tmp_path / "candles")
    store.write("binance", "BTC/USDT", "5m", candles)
    return ReplayFeed(store, "binance", "5m")


def exchange(tmp_path, feed, fill_at="next_open") -> PaperExchange:
    factory = make_exchange_factory(f"sqlite:///{tmp_path / f'exchange-{fill_at}.db'}")
    return PaperExchange(factory, "USDT", 10_000.0, FEE, SLIP, fill_at=fill_at, quotes=feed)


def buy(price: float):
    """A buy risk approved at `price` (the decision's close, 3 candles in)."""
    intent = OrderIntent("BTC/USDT", "buy", price, "volt-b", "signal", atr=1.0)
    return build_gate(SETTINGS).approve(intent, PortfolioView(10_000.0, 10_000.0, {}))


def sell(price: float, reason: str, amount: float):
    held = OpenPosition("BTC/USDT", amount, 100.0, 0.0, 95.0, 110.0)
    intent = OrderIntent("BTC/USDT", "sell", price, f"volt-{reason}", reason)
    return build_gate(SETTINGS).approve(intent, PortfolioView(10_000.0, 0.0, {"BTC/USDT": held}))


@pytest.mark.parametrize("into", [timedelta(0), timedelta(minutes=4, seconds=59)])
def test_the_replay_feed_quotes_the_open_of_the_candle_forming_now(feed, into):
    assert feed.opening_price("BTC/USDT", T0 + 3 * STEP + into) == 101.9
    # What it quotes is no candle it serves yet: the last one served closed at 101.6.
    assert feed.candles("BTC/USDT", T0 + 3 * STEP + into, 1)["close"].iloc[-1] == 101.6


def test_the_replay_feed_has_no_quote_in_a_gap_nor_past_its_end(feed):
    assert feed.opening_price("BTC/USDT", T0 + 4 * STEP + timedelta(minutes=2)) is None
    assert feed.opening_price("BTC/USDT", T0 + 7 * STEP) is None
    assert feed.opening_price("BTC/USDT", T0 - timedelta(seconds=1)) is None


@pytest.mark.parametrize("candle", [1, 17, 2047, 2048, 5000])
def test_the_synthetic_feed_quotes_the_open_the_forming_candle_later_shows(candle):
    feed = SyntheticFeed(7, "5m")
    now = SYNTHETIC_EPOCH + candle * STEP + timedelta(seconds=137)
    quoted = feed.opening_price("ETH/USDT", now)
    shown = SyntheticFeed(7, "5m").candles("ETH/USDT", SYNTHETIC_EPOCH + (candle + 1) * STEP, 1)
    assert quoted == shown["open"].iloc[-1]


def test_a_signal_order_fills_at_the_forming_candles_open(tmp_path, feed):
    broker = exchange(tmp_path, feed)
    approved = buy(101.6)  # decided on candle 2's close
    fill = broker.submit(approved, T0 + 3 * STEP)
    assert fill.price == pytest.approx(101.9 * (1 + SLIP), rel=1e-12)
    assert fill.fee == pytest.approx(approved.amount * fill.price * FEE, rel=1e-12)
    assert fill.market_price == fill.requested_price == 101.9
    assert broker.cash() == pytest.approx(10_000.0 - approved.amount * fill.price - fill.fee)
    # Asked again under the same id, the exchange reports the same fill and market price.
    again = broker.submit(approved, T0 + 3 * STEP + timedelta(minutes=1))
    assert again.duplicate and (again.price, again.market_price) == (fill.price, 101.9)


def test_a_signal_exit_fills_at_the_forming_candles_open(tmp_path, feed):
    broker = exchange(tmp_path, feed)
    amount = broker.submit(buy(100.4), T0 + STEP).amount
    fill = broker.submit(sell(101.6, "signal", amount), T0 + 3 * STEP)
    assert fill.price == pytest.approx(101.9 * (1 - SLIP), rel=1e-12)


@pytest.mark.parametrize("reason", ["stop_loss", "trailing_stop", "take_profit"])
def test_a_stop_or_target_met_fills_at_its_own_level(tmp_path, feed, reason):
    broker = exchange(tmp_path, feed)
    amount = broker.submit(buy(100.4), T0 + STEP).amount
    fill = broker.submit(sell(100.2, reason, amount), T0 + 3 * STEP)
    assert fill.price == pytest.approx(100.2 * (1 - SLIP), rel=1e-12)


def test_the_auditor_measures_slippage_from_the_market_price_when_the_order_arrived(tmp_path, feed):
    """A close asked for by hand is priced at the last close (102.5); it arrives while
    candle 6 forms, opened at 102.0: the market's 0.5 % move is no fault of the fill."""
    broker = exchange(tmp_path, feed)
    amount = broker.submit(buy(100.4), T0 + STEP).amount
    account = Account(
        make_session_factory(make_engine(f"sqlite:///{tmp_path / 'volt.db'}")),
        FastForwardClock(T0 + 6 * STEP),
        feed,
        broker,
        build_gate(SETTINGS),
        audit_limits=AuditLimits(max_slippage=0.002, size_tolerance=0.001),
    )
    fill, findings = send(account, sell(102.5, "manual close", amount), T0 + 6 * STEP)
    assert fill.price == pytest.approx(102.0 * (1 - SLIP), rel=1e-12)
    assert findings == ""
    # Measured from the close the close was asked at, it would have been a violation.
    assert audit_fill("sell", 102.5, amount, fill.price, fill.amount, account.audit_limits)


def test_with_fill_at_close_an_order_fills_at_its_own_price(tmp_path, feed):
    fill = exchange(tmp_path, feed, "close").submit(buy(101.6), T0 + 3 * STEP)
    assert fill.price == pytest.approx(101.6 * (1 + SLIP), rel=1e-12)


def test_with_no_forming_candle_an_order_fills_at_its_own_price(tmp_path, feed):
    fill = exchange(tmp_path, feed).submit(buy(102.2), T0 + 4 * STEP)  # candle 4 missing
    assert fill.price == pytest.approx(102.2 * (1 + SLIP), rel=1e-12)


# The technical agent alone (it trades often) on a replay of gapped candles: opens up to
# 0.4 % off the closes, beyond the auditor's 0.2 % slippage limit.
TRADER = """
[market]
pairs = ["BTC/USDT", "ETH/USDT"]
history_candles = 120
[feed]
kind = "replay"
[broker]
fill_at = "{fill_at}"
[agents.weights]
technical = 1.0
regime = 0.0
sentiment = 0.0
[risk]
min_target_to_cost = 1.0
"""
TICKS = 300


def paper_run(trader_factory, store, volt_home, tmp_path, fill_at):
    """The Trader over stored gapped candles; each signal order's (decision, order, fill)
    with the stored candles."""
    frames = store_gapped(
        CandleStore(volt_home / "candles"), 5, ["BTC/USDT", "ETH/USDT"],
        START + STEP * (TICKS + 1), 300 + TICKS, bps=40,
    )  # fmt: skip
    path = tmp_path / "paper.toml"
    path.write_text(TRADER.format(fill_at=fill_at))
    trader, clock = trader_factory(path)
    run_ticks(trader, clock, market_hours=TICKS * 300 / 3600)
    with store[1]() as session:
        rows = session.execute(
            select(Decision, Order, Fill)
            .join(Order, Order.decision_id == Decision.id)
            .join(Fill, Fill.order_id == Order.id)
            .where(Order.reason == "signal")
        ).all()
    assert len(rows) >= 4
    return rows, frames


def test_the_paper_trader_fills_at_the_forming_open_with_no_audit_violation(
    trader_factory, store, volt_home, tmp_path
):
    rows, frames = paper_run(trader_factory, store, volt_home, tmp_path, "next_open")
    moved = 0
    for decision, order, fill in rows:
        candles = frames[decision.pair]
        decided = pd.Timestamp(as_utc(decision.candle_ts))
        assert decision.price == candles.at[decided, "close"]  # the decision keeps its close
        opening = candles.at[pd.Timestamp(as_utc(fill.ts)), "open"]  # the candle forming then
        assert pd.Timestamp(as_utc(fill.ts)) == decided + STEP
        side = 1 + SLIP if order.side == "buy" else 1 - SLIP
        assert fill.price == pytest.approx(opening * side, rel=1e-12)
        assert order.price == pytest.approx(opening, rel=1e-12)  # approved at that open
        assert decision.audit == ""
        moved += abs(opening / decision.price - 1) > SETTINGS.agents.auditor.max_slippage
    assert moved > 0, "some opens were further from the close than the auditor's limit"


def test_with_fill_at_close_the_paper_trader_fills_at_the_decisions_close(
    trader_factory, store, volt_home, tmp_path
):
    rows, _ = paper_run(trader_factory, store, volt_home, tmp_path, "close")
    for decision, order, fill in rows:
        side = 1 + SLIP if order.side == "buy" else 1 - SLIP
        assert fill.price == pytest.approx(decision.price * side, rel=1e-12)
