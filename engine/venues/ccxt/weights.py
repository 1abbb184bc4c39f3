"""The exchange's request-weight budget, shared by every thread of one client: ccxt's own
throttle spaces calls one after another, which would make a tick's concurrent candle reads
as slow as sequential ones; this one lets calls overlap and only keeps the sum of their
weights within the budget over a rolling window."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

ROUNDING = 1e-9  # ccxt's costs are decimal fractions: 30 x 0.4 must fit in 12


class WeightBudget:
    """At most `budget()` weight spent in any `window_seconds`: a call that would pass it
    waits until enough of the window's earlier calls have aged out. Weights are ccxt's
    endpoint costs (Binance spot: 0.2 a unit of its request weight), and the budget is what
    ccxt's `rateLimit` allows over the window, so the average pace is ccxt's own."""

    def __init__(
        self,
        budget: Callable[[], float],
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget, self.window = budget, window_seconds
        self.clock, self.sleep = clock, sleep
        self._spent: deque[tuple[float, float]] = deque()  # (when, weight), oldest first
        self._lock = threading.Lock()

    def spend(self, cost: float | None = None) -> None:
        """Wait until `cost` fits in the budget, then count it as spent now. Has ccxt's
        `throttle(cost)` signature: ccxt calls it before each request."""
        cost = 1.0 if cost is None else float(cost)
        while True:
            with self._lock:
                wait = self._wait_for(cost)
                if wait <= 0:
                    self._spent.append((self.clock(), cost))
                    return
            self.sleep(wait)  # outside the lock: other threads' calls may still fit

    def spent(self) -> float:
        """The weight spent within the current window."""
        with self._lock:
            self._age()
            return sum(weight for _at, weight in self._spent)

    def _wait_for(self, cost: float) -> float:
        """0 when `cost` fits now, else the seconds until the oldest calls age out enough."""
        now = self._age()
        # A single call heavier than the whole budget would wait for ever: it goes alone.
        room = max(self.budget(), cost) - sum(weight for _at, weight in self._spent)
        if cost <= room + ROUNDING:
            return 0.0
        freed = 0.0
        for at, weight in self._spent:
            freed += weight
            if cost <= room + freed + ROUNDING:
                return at + self.window - now
        return self.window  # unreachable: everything ages out within one window

    def _age(self) -> float:
        now = self.clock()
        while self._spent and self._spent[0][0] <= now - self.window:
            self._spent.popleft()
        return now
