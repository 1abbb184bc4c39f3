"""Where a restarted engine's clock resumes: a simulated market where its store's market time
says, or later at the paper account's last fill (a lost or older store); a replay only at a
time within its stored candles; a real market on the wall clock."""

from datetime import UTC, datetime, timedelta

import pytest

from config import load_config
from data.candles.store import CandleStore
from data.store.db import transaction
from engine.clock import RealClock
from engine.venues.paper import PaperOrder, make_exchange_factory
from engine.venues.synthetic import SyntheticFeed
from engine.wiring import build_clock

STEP = timedelta(minutes=5)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)  # the stored candles' first
CANDLES = 400
PAPER = '[market]\npairs = ["BTC/USDT"]\nhistory_candles = 60\n'


@pytest.fixture
def settings(tmp_path, volt_home):
    def load(extra: str = ""):
        path = tmp_path / "volt.toml"
        path.write_text(PAPER + extra)
        return load_config(path)

    return load


@pytest.fixture
def replay(settings, volt_home):
    """A replay of 400 stored 5m BTC/USDT candles from FIRST."""
    market = SyntheticFeed(7, "5m")
    CandleStore.default().write(
        "binance", "BTC/USDT", "5m", market.candles("BTC/USDT", FIRST + CANDLES * STEP, CANDLES)
    )
    return settings('[feed]\nkind = "replay"\n')


@pytest.fixture
def last_fill(volt_home):
    """Books a paper fill at the given market time in this home's paper exchange."""
    factory = make_exchange_factory()

    def fill(at: datetime, pair: str = "BTC/USDT") -> None:
        with transaction(factory) as session:
            session.add(
                PaperOrder(
                    client_order_id=f"volt-{pair[:3]}-{at.timestamp():.0f}",
                    ts=at,
                    pair=pair,
                    side="buy",
                    amount=0.01,
                    requested_price=50_000.0,
                    price=50_000.0,
                    fee=0.5,
                )
            )

    yield fill
    factory.kw["bind"].dispose()


def test_a_store_behind_the_account_resumes_at_its_last_fill(settings, last_fill):
    ahead = datetime.now(UTC) + timedelta(days=30)
    last_fill(ahead)

    clock = build_clock(settings(), 60.0, ahead - timedelta(days=2))

    assert clock.now() >= ahead


def test_a_store_ahead_of_the_account_resumes_where_it_stopped(settings, last_fill):
    stopped = datetime.now(UTC) + timedelta(days=30)
    last_fill(stopped - timedelta(days=2))

    clock = build_clock(settings(), 60.0, stopped)

    assert stopped <= clock.now() < stopped + timedelta(days=1)


def test_a_replay_resumes_at_the_last_fill_when_it_lies_within_the_candles(replay, last_fill):
    stored, filled = FIRST + 100 * STEP, FIRST + 200 * STEP
    last_fill(filled)

    assert build_clock(replay, 60.0, stored).now() >= filled


def test_a_replay_keeps_its_stored_time_when_the_last_fill_is_another_markets(replay, last_fill):
    """The same paper account traded the simulated market at wall-clock times: the replay's
    stored resume still holds, not its start afresh."""
    stored = FIRST + 150 * STEP
    last_fill(datetime(2026, 6, 1, tzinfo=UTC))

    clock = build_clock(replay, 60.0, stored)

    assert stored <= clock.now() < stored + STEP


def test_a_fill_in_a_pair_the_replay_does_not_trade_is_another_markets(replay, last_fill):
    stored = FIRST + 150 * STEP
    last_fill(FIRST + 300 * STEP, pair="DOGE/USDT")  # within the candles' span all the same

    clock = build_clock(replay, 60.0, stored)

    assert stored <= clock.now() < stored + STEP


def test_a_replay_with_neither_within_starts_after_the_warm_up(replay, last_fill):
    last_fill(datetime(2026, 6, 1, tzinfo=UTC))

    clock = build_clock(replay, 60.0, None)

    assert FIRST + 60 * STEP <= clock.now() < FIRST + 61 * STEP


def test_a_real_market_runs_on_the_wall_clock_whatever_was_stored(settings, last_fill):
    last_fill(datetime.now(UTC) + timedelta(days=30))
    exchange = settings('[feed]\nkind = "ccxt"\n')

    assert isinstance(build_clock(exchange, 1.0, datetime.now(UTC) + timedelta(days=9)), RealClock)
