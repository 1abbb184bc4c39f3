"""The backtest's risk pieces agree with the live ones they stand in for."""

from datetime import UTC, datetime, timedelta

import numpy as np

from risk.context import latch_locks, running_locks
from risk.protections import Block
from risk.stops import trail, trail_path

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_trail_path_is_the_live_trail_to_the_bit():
    rng = np.random.default_rng(5)
    highs = 100 + np.cumsum(rng.normal(0, 1, 400))
    stop, peak, distance = 95.0, 100.2, 2.5
    stops, peaks = trail_path(stop, peak, distance, highs)
    for i, high in enumerate(highs):
        assert (stops[i], peaks[i]) == (stop, peak)  # in force when candle i opens
        stop, peak = trail(stop, peak, distance, float(high))
    assert (stops[-1], peaks[-1]) == (stop, peak)
    assert np.all(np.diff(stops) >= 0), "a trailing stop never moves down"


def test_a_latched_lock_keeps_its_end_until_it_runs_out():
    pause = Block("max_drawdown", "down", "later", T0 + timedelta(hours=2))
    locks = latch_locks({}, [pause], T0)
    later = Block("max_drawdown", "down more", "later", T0 + timedelta(hours=3))
    locks = latch_locks(locks, [later], T0 + timedelta(hours=1))
    assert locks[("max_drawdown", None)] is pause, "a pause must not slide forward"
    assert latch_locks(locks, [], T0 + timedelta(hours=2)) == {}
    condition = Block("max_exposure", "full", "when a position closes")
    assert latch_locks({}, [condition], T0) == {}, "condition blocks are judged afresh"
    assert running_locks([pause], T0 + timedelta(hours=2)) == ()
