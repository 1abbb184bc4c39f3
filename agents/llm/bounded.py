"""The time budget: each request on a daemon thread of its own, waited for until a deadline.

httpx timeouts bound each read, not the whole reply, so a server that trickles bytes could
hold the trading loop; the wait here is what holds the budget. Requests are keyed (by pair,
or the probe): a late one keeps its key busy until it ends, never another key, so a reply
trickling for one pair does not hold back the others. The wait ends early when the worker
is stopping, and runs `meanwhile` (the worker's commands) every `POLL_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("volt.llm")

BUSY = "previous request still running"
POLL_SECONDS = 0.2  # how often a wait looks at the stop and runs `meanwhile`


@dataclass(frozen=True)
class Attempt:
    """One bounded request: its value or error, or that it was late, stopped or refused."""

    value: Any = None
    error: BaseException | None = None
    latency_ms: float | None = None
    late: bool = False
    busy: bool = False
    stopped: bool = False  # the wait was cancelled: the worker is stopping


@dataclass
class Waiting:
    """How long requests are waited for: until `deadline` (perf_counter) or `stop` is set;
    `meanwhile` runs at most every `POLL_SECONDS` while they are (what it raises is logged
    and the wait goes on)."""

    deadline: float
    stop: threading.Event | None = None
    meanwhile: Callable[[], None] | None = None

    @property
    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def wait(self, futures: Sequence[Future]) -> None:
        """Until every future is done, the deadline passes or the stop is set."""
        polling = self.stop is not None or self.meanwhile is not None
        next_meanwhile = time.perf_counter() + POLL_SECONDS
        while True:
            pending = [f for f in futures if not f.done()]
            left = self.deadline - time.perf_counter()
            if not pending or left <= 0 or self.stopped:
                return
            wait(
                pending,
                timeout=min(left, POLL_SECONDS) if polling else left,
                return_when=FIRST_COMPLETED,
            )
            now = time.perf_counter()
            if self.meanwhile is not None and not self.stopped and now >= next_meanwhile:
                next_meanwhile = now + POLL_SECONDS
                try:
                    self.meanwhile()
                except Exception:
                    log.exception("what runs while the LLM is awaited failed")

    def attempt(self, future: Future | None) -> Attempt:
        """The outcome of a request started with `Requests.start` (None: it was busy)."""
        if future is None:
            return Attempt(busy=True)
        if not future.done():
            future.add_done_callback(_log_late_completion)
            return Attempt(late=True, stopped=self.stopped)
        error, value, latency_ms = future.result()
        return Attempt(value=value, error=error, latency_ms=latency_ms)


class Requests:
    """At most one request per key at a time, each on a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, Future] = {}

    def running(self, key: str | None = None) -> bool:
        """A request (perhaps a late one) still runs under `key`, or under any key."""
        with self._lock:
            futures = self._inflight.values() if key is None else [self._inflight.get(key)]
            return any(f is not None and not f.done() for f in futures)

    def start(self, key: str, request: Callable[[], Any]) -> Future | None:
        """`request` started on its thread, or None while the last one under `key` runs."""
        with self._lock:
            running = self._inflight.get(key)
            if running is not None and not running.done():
                return None
            future: Future = Future()
            self._inflight[key] = future
        threading.Thread(
            target=_fulfil, args=(future, request), name=f"volt-llm {key}", daemon=True
        ).start()
        return future

    def run(self, key: str, request: Callable[[], Any], waiting: Waiting) -> Attempt:
        """Start one request and wait for it."""
        future = self.start(key, request)
        if future is not None:
            waiting.wait([future])
        return waiting.attempt(future)


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
