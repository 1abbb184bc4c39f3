"""The synthetic market is seeded and consistent; clocks run at their speed."""

import gc
import threading
import tracemalloc
from datetime import timedelta

import numpy as np

from data.market.indicators import add_indicators
from engine.clock import FastForwardClock, SimulatedClock
from engine.venues.synthetic import SyntheticFeed
from tests.support.runs import START


def test_same_seed_and_time_give_the_same_candles_after_a_restart():
    first = SyntheticFeed(42, "5m").candles("ETH/USDT", START, 300)
    again = SyntheticFeed(42, "5m").candles("ETH/USDT", START, 300)
    later = SyntheticFeed(42, "5m").candles("ETH/USDT", START + timedelta(hours=2), 324)
    assert first.equals(again)
    assert first.equals(later.iloc[: len(first)])


def test_other_seed_gives_another_market():
    a = SyntheticFeed(1, "5m").candles("BTC/USDT", START, 50)["close"]
    b = SyntheticFeed(2, "5m").candles("BTC/USDT", START, 50)["close"]
    assert not np.allclose(a, b)


def test_candles_are_well_formed_and_only_closed_ones_are_served():
    feed = SyntheticFeed(42, "5m")
    candles = feed.candles("SOL/USDT", START + timedelta(minutes=7), 500)
    assert (candles["high"] >= candles[["open", "close"]].max(axis=1)).all()
    assert (candles["low"] <= candles[["open", "close"]].min(axis=1)).all()
    assert (candles["volume"] > 0).all()
    assert (candles["open"].iloc[1:].values == candles["close"].iloc[:-1].values).all()
    assert candles.index[-1] + timedelta(minutes=5) <= START + timedelta(minutes=7)


def test_market_has_regimes_that_reach_indicator_extremes():
    candles = SyntheticFeed(42, "5m").candles("BTC/USDT", START, 288 * 7)
    rsi = add_indicators(candles)["rsi"].dropna()
    assert (rsi < 30).any() and (rsi > 70).any()
    returns = np.log(candles["close"]).diff().dropna()
    rolling_vol = returns.rolling(48).std().dropna()
    assert rolling_vol.max() > 2 * rolling_vol.min(), "expected calm and volatile stretches"


def test_same_candles_when_asked_again_for_a_stretch_long_passed():
    feed = SyntheticFeed(42, "5m")
    early = feed.candles("BTC/USDT", START, 300)
    feed.candles("BTC/USDT", START + timedelta(days=60), 300)  # blocks ago: no longer kept
    assert feed.candles("BTC/USDT", START, 300).equals(early)
    assert early.equals(SyntheticFeed(42, "5m").candles("BTC/USDT", START, 300))


def test_a_long_run_holds_the_candles_of_its_window_not_of_its_past():
    # A worker asks for the last few hundred candles every tick for months: what the feed
    # keeps must not grow with the months (it grew by 64 bytes a candle a pair).
    feed, now = SyntheticFeed(42, "5m"), START
    tracemalloc.start()
    try:
        for _ in range(6 * 120):  # 120 days, a look every 4 hours
            now += timedelta(hours=4)
            feed.candles("BTC/USDT", now, 300)
            feed.opening_price("BTC/USDT", now)
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2**20, f"{held / 2**20:.1f} MiB held after 120 days"  # unbounded: 3.3 MiB


def test_simulated_clock_runs_at_its_speed():
    wall = [100.0]
    clock = SimulatedClock(START, speed=600.0, monotonic=lambda: wall[0])
    wall[0] += 0.05
    assert clock.now() == START + timedelta(seconds=30)


def test_simulated_wait_is_interrupted_by_stop():
    clock = SimulatedClock(START, speed=1.0)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    # An hour's wait at speed 1: returning at all means the stop cut it short.
    assert clock.wait_until(START + timedelta(hours=1), stop) is False
    assert stop.is_set() and clock.now() < START + timedelta(hours=1)


def test_fast_forward_clock_jumps_to_the_target():
    clock = FastForwardClock(START)
    assert clock.wait_until(START + timedelta(hours=3), threading.Event())
    assert clock.now() == START + timedelta(hours=3)
