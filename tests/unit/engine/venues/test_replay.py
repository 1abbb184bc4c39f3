"""The replay feed: stored candles as of the clock's now, never one not yet closed; where a
replay starts; and one event when the stored candles run out."""

import logging
from datetime import UTC, datetime, timedelta

import pytest

from config import ConfigError, load_config
from data.candles.store import CandleStore
from engine.venues.replay import ReplayFeed, describe_replay, replay_start
from engine.venues.synthetic import SyntheticFeed

STEP = timedelta(minutes=5)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)  # the synthetic market's first candle
CANDLES = 200


@pytest.fixture
def store(tmp_path) -> CandleStore:
    """200 stored 5m candles of BTC/USDT and ETH/USDT."""
    store = CandleStore(tmp_path / "candles")
    market = SyntheticFeed(7, "5m")
    for pair in ("BTC/USDT", "ETH/USDT"):
        store.write("binance", pair, "5m", market.candles(pair, FIRST + CANDLES * STEP, CANDLES))
    return store


@pytest.fixture
def feed(store) -> ReplayFeed:
    return ReplayFeed(store, "binance", "5m")


def settings(tmp_path, extra: str = ""):
    path = tmp_path / "replay.toml"
    path.write_text(
        '[market]\npairs = ["BTC/USDT", "ETH/USDT"]\nhistory_candles = 60\n'
        f'[feed]\nkind = "replay"\n{extra}'
    )
    return load_config(path)


def test_only_candles_closed_by_now_are_served(feed):
    now = FIRST + 50 * STEP + timedelta(minutes=4, seconds=59)  # the 51st candle still forming

    candles = feed.candles("BTC/USDT", now, 1000)

    assert len(candles) == 50
    assert (candles.index + STEP <= now).all()
    assert candles.index[-1] == FIRST + 49 * STEP


def test_a_candle_is_served_the_moment_it_closes(feed):
    assert feed.candles("BTC/USDT", FIRST + 51 * STEP, 1).index[-1] == FIRST + 50 * STEP


def test_nothing_is_served_before_the_first_candle_closes(feed):
    candles = feed.candles("BTC/USDT", FIRST + STEP - timedelta(seconds=1), 10)

    assert candles.empty
    assert list(candles.columns) == ["open", "high", "low", "close", "volume"]


def test_the_limit_is_honoured_with_the_latest_candles(feed, store):
    candles = feed.candles("ETH/USDT", FIRST + 120 * STEP, 30)

    stored = store.read("binance", "ETH/USDT", "5m")
    assert candles.equals(stored.iloc[90:120])


def test_past_the_end_no_new_candles_come_and_one_event_says_the_replay_ended(feed, caplog):
    caplog.set_level(logging.INFO, logger="volt.replay")
    end = FIRST + CANDLES * STEP

    at_end = feed.candles("BTC/USDT", end, 5)
    later = [feed.candles("BTC/USDT", end + n * STEP, 5) for n in (1, 2, 50)]

    assert all(candles.equals(at_end) for candles in later)
    ended = [r for r in caplog.records if getattr(r, "kind", "") == "replay_ended"]
    assert len(ended) == 1
    assert "replay of BTC/USDT 5m from binance ended" in ended[0].getMessage()


def test_a_replay_starts_after_the_warm_up_by_default(tmp_path, store):
    assert replay_start(settings(tmp_path), store=store) == FIRST + 60 * STEP


def test_a_configured_start_is_used(tmp_path, store):
    configured = settings(tmp_path, "[replay]\nstart = 2026-01-01T10:00:00Z\n")

    assert replay_start(configured, store=store) == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_a_configured_date_without_a_time_is_midnight_utc(tmp_path):
    configured = settings(tmp_path, "[replay]\nstart = 2026-01-02\n")

    assert configured.replay.start == datetime(2026, 1, 2, tzinfo=UTC)


def test_a_restarted_replay_resumes_where_it_stopped(tmp_path, store):
    stopped = FIRST + 150 * STEP

    assert replay_start(settings(tmp_path), stopped, store) == stopped


def test_a_clock_left_outside_the_replay_starts_it_afresh(tmp_path, store):
    wall_clock_run = datetime(2026, 6, 1, tzinfo=UTC)  # a simulated run in the same home

    assert replay_start(settings(tmp_path), wall_clock_run, store) == FIRST + 60 * STEP


def test_a_missing_series_is_a_configuration_error_naming_the_fix(tmp_path, store):
    no_sol = settings(tmp_path).model_copy(
        update={"market": load_config().market.model_copy(update={"pairs": ["SOL/USDT"]})}
    )

    with pytest.raises(ConfigError, match="no stored SOL/USDT 5m candles from binance.*download"):
        replay_start(no_sol, store=store)


def test_a_start_after_the_stored_candles_is_refused(tmp_path, store):
    too_late = settings(tmp_path, "[replay]\nstart = 2026-03-01\n")

    with pytest.raises(ConfigError, match="after the last stored candle"):
        replay_start(too_late, store=store)


def test_check_describes_what_a_replay_plays_back(tmp_path, store):
    assert describe_replay(settings(tmp_path), store) == (
        "stored binance candles 2026-01-01 00:00 to 2026-01-01 16:35 UTC, starting 2026-01-01 05:00"
    )


def test_of_several_resume_times_the_first_within_the_replay_is_taken(tmp_path, store):
    outside, within, later = (
        datetime(2026, 6, 1, tzinfo=UTC),
        FIRST + 120 * STEP,
        FIRST + 150 * STEP,
    )

    assert replay_start(settings(tmp_path), [outside, within, later], store) == within
    assert replay_start(settings(tmp_path), [outside], store) == FIRST + 60 * STEP
