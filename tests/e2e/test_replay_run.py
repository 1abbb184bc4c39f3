"""`python -m engine run` with feed.kind = "replay": the engine trades stored candles at 7200x,
deciding on each candle only once it has closed, and says when the stored candles run out."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from data.candles.store import CandleStore
from data.store.db import as_utc, make_engine, make_session_factory
from data.store.models import Decision, Event
from engine.venues.synthetic import SyntheticFeed
from tests.support.runs import run_engine

STEP = timedelta(minutes=5)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
WARM_UP, REPLAYED = 120, 180  # candles: the engine's history, then 15 market hours to trade
PAIRS = ("BTC/USDT", "ETH/USDT")
CONFIG = """
[market]
pairs = ["BTC/USDT", "ETH/USDT"]
history_candles = 120
[feed]
kind = "replay"
[agents.weights]
technical = 1.0
regime = 0.5
sentiment = 0.0
"""


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """Stored candles in a fresh VOLT_HOME, replayed by one worker for 12 wall seconds (24
    market hours at 7200x: past the end of the 25 stored hours)."""
    home = tmp_path_factory.mktemp("replay")
    store = CandleStore(home / "candles")
    market = SyntheticFeed(3, "5m")
    total = WARM_UP + REPLAYED
    for pair in PAIRS:
        store.write("binance", pair, "5m", market.candles(pair, FIRST + total * STEP, total))
    config = home / "replay.toml"
    config.write_text(CONFIG)

    result = run_engine(
        "run", "--config", str(config), "--speed", "7200", "--for", "12", VOLT_HOME=str(home)
    )

    assert result.returncode == 0, result.stderr[-3000:]
    engine = make_engine(f"sqlite:///{home / 'volt.db'}")
    with make_session_factory(engine)() as session:
        decisions = list(session.scalars(select(Decision)))
        events = list(session.scalars(select(Event)))
    engine.dispose()
    return store, decisions, events


def test_decisions_are_made_on_the_stored_candles_after_the_warm_up(replayed):
    store, decisions, _ = replayed
    for pair in PAIRS:
        stored = set(store.read("binance", pair, "5m").index)
        times = {as_utc(d.candle_ts) for d in decisions if d.pair == pair}
        assert times <= stored
        # None on the warm-up candles (the clock starts after them; at 7200x the worker's
        # start-up may take a few more), and on to the last stored candle.
        assert min(times) >= FIRST + (WARM_UP - 1) * STEP
        assert max(times) == FIRST + (WARM_UP + REPLAYED - 1) * STEP
        # A busy machine may skip candles at 7200x; most of them are decided on.
        assert len(times) >= REPLAYED // 2


def test_no_decision_sees_a_candle_before_it_closed(replayed):
    _, decisions, _ = replayed

    assert all(as_utc(d.ts) >= as_utc(d.candle_ts) + STEP for d in decisions)


def test_the_end_of_the_stored_candles_is_one_event_per_pair(replayed):
    _, _, events = replayed

    ended = [e for e in events if e.kind == "replay_ended"]
    assert sorted(e.message.split()[2] for e in ended) == sorted(PAIRS)


def test_a_replay_without_its_stored_candles_is_refused_in_one_line(tmp_path):
    config = tmp_path / "replay.toml"
    config.write_text(CONFIG)

    result = run_engine("run", "--config", str(config), "--for", "1", VOLT_HOME=str(tmp_path))

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "volt: configuration error: feed.kind = 'replay': no stored BTC/USDT 5m candles from "
        f"binance in {tmp_path / 'candles'}; fetch them with `python -m engine download --pairs "
        "BTC/USDT --timeframe 5m` or `python -m engine import FILE`"
    ]
