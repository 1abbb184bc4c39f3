"""The time budget: one request at a time on a worker thread, waited for until a deadline.

httpx timeouts bound each read, not the whole reply, so a server that trickles bytes could
hold the trading loop; the wait here is what holds the budget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("volt.llm")

BUSY = "previous request still running"


@dataclass(frozen=True)
class Attempt:
    """One bounded request: its value or error, or that it was late or refused."""

    value: Any = None
    error: BaseException | None = None
    latency_ms: float | None = None
    late: bool = False
    busy: bool = False


class OneRequestAtATime:
    """A late request keeps its thread until it ends; none starts meanwhile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: Future | None = None

    @property
    def running(self) -> bool:
        """A request (perhaps a late one) still holds the worker thread."""
        with self._lock:
            return self._inflight is not None and not self._inflight.done()

    def run(self, request: Callable[[], Any], deadline: float) -> Attempt:
        """Run `request` on a daemon thread and wait for it until `deadline` (perf_counter)."""
        with self._lock:
            if self._inflight is not None and not self._inflight.done():
                return Attempt(busy=True)
            future: Future = Future()
            self._inflight = future
        threading.Thread(
            target=_fulfil, args=(future, request), name="volt-llm", daemon=True
        ).start()
        try:
            error, value, latency_ms = future.result(
                timeout=max(0.0, deadline - time.perf_counter())
            )
        except FutureTimeout:
            future.add_done_callback(_log_late_completion)
            return Attempt(late=True)
        return Attempt(value=value, error=error, latency_ms=latency_ms)


def _fulfil(future: Future, request: Callable[[], Any]) -> None:
    started = time.perf_counter()
    try:
        value, error = request(), None
    except Exception as exc:  # handed to the waiting caller, which decides
        value, error = None, exc
    future.set_result((error, value, round((time.perf_counter() - started) * 1000.0, 1)))


def _log_late_completion(future: Future) -> None:
    error, _value, latency_ms = future.result()
    outcome = f"failed ({type(error).__name__})" if error else "arrived"
    log.info("late LLM request %s after %.0f ms; discarded", outcome, latency_ms)
