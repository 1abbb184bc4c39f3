"""Everything that waits or stamps asks a Clock; only the clock differs between live and demo."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    speed: float  # market seconds per wall second

    def now(self) -> datetime: ...

    def wait_until(self, target: datetime, stop: threading.Event) -> bool:
        """Wait until market time `target`; return False early if `stop` is set."""
        ...


class RealClock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, target: datetime, stop: threading.Event) -> bool:
        return _wait(lambda: (target - self.now()).total_seconds(), stop)


class SimulatedClock:
    """Market time runs `speed` times faster than the wall, from `start`."""

    def __init__(
        self, start: datetime, speed: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be above 0, got {speed}")
        self.speed = speed
        self._start = start
        self._monotonic = monotonic  # the wall it runs against; tests pass their own
        self._wall_start = monotonic()

    def now(self) -> datetime:
        elapsed = (self._monotonic() - self._wall_start) * self.speed
        return self._start + timedelta(seconds=elapsed)

    def wait_until(self, target: datetime, stop: threading.Event) -> bool:
        return _wait(lambda: (target - self.now()).total_seconds() / self.speed, stop)


def _wait(wall_seconds_left, stop: threading.Event) -> bool:
    # Short slices keep shutdown prompt whatever the tick interval.
    while (left := wall_seconds_left()) > 0:
        if stop.wait(min(left, 0.2)):
            return False
    return not stop.is_set()


def make_clock(speed: float, resume_from: datetime | None = None) -> Clock:
    """Speed 1 is the real clock; any other speed a simulated one. Neither runs backwards:
    after a fast run got ahead of the wall, time resumes from where that run stopped."""
    now = datetime.now(UTC)
    if speed == 1.0 and (resume_from is None or resume_from <= now):
        return RealClock()
    return SimulatedClock(max(now, resume_from or now), speed)


class FastForwardClock:
    """As fast as possible: waiting jumps straight to the target (backtests, soaks, tests)."""

    speed = float("inf")

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def wait_until(self, target: datetime, stop: threading.Event) -> bool:
        if stop.is_set():
            return False
        self._now = max(self._now, target)
        return True

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now
