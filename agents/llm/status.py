"""The LLM's health as the dashboard shows it: reachability, counters, the last error."""

from __future__ import annotations

import statistics
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

LATENCY_WINDOW = 50  # calls behind the median latency


@dataclass
class LlmStatus:
    """What the dashboard shows about the LLM; JSON-able with `dataclasses.asdict`."""

    reachable: bool | None  # None until the first probe
    model: str
    host: str
    last_error: str | None
    last_error_at: str | None  # UTC, ISO 8601
    calls: int  # votes asked for
    abstentions: int  # of those, votes that abstained (offline included)
    median_latency_ms: float | None  # over the last answered chat requests
    offline_reason: str | None


class LlmHealth:
    """Thread-safe: a late request's thread and the trading loop both report here."""

    def __init__(self, model: str, host: str, utc_now: Callable[[], datetime]) -> None:
        self._model = model
        self._host = host  # without credentials
        self._utc_now = utc_now
        self._lock = threading.Lock()
        self._reachable: bool | None = None
        self._offline_reason: str | None = None
        self._last_error: str | None = None
        self._last_error_at: str | None = None
        self._last_failure: str | None = None  # kind of the last abstention, for log levels
        self._calls = 0
        self._abstentions = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)

    @property
    def reachable(self) -> bool | None:
        return self._reachable

    @property
    def offline_reason(self) -> str | None:
        return self._offline_reason

    def count_call(self) -> None:
        with self._lock:
            self._calls += 1

    def count_latency(self, latency_ms: float) -> None:
        with self._lock:
            self._latencies.append(latency_ms)

    def count_vote(self) -> None:
        """A reply that became a vote: the next failure of any kind is news again."""
        with self._lock:
            self._last_failure = None

    def count_abstention(self, kind: str, reason: str) -> bool:
        """Record an abstention of `kind`; True when the last one was of the same kind."""
        with self._lock:
            self._abstentions += 1
            self._record_error(reason)
            repeated = kind == self._last_failure
            self._last_failure = kind
        return repeated

    def count_offline_abstention(self) -> None:
        with self._lock:
            self._abstentions += 1

    def mark_offline(self, reason: str, error: str) -> bool:
        """True when this is news: the server was not offline, or for another reason."""
        with self._lock:
            changed = self._reachable is not False or self._offline_reason != reason
            self._reachable = False
            self._offline_reason = reason
            self._record_error(error)
        return changed

    def mark_online(self) -> bool | None:
        """Returns what reachability was before."""
        with self._lock:
            was = self._reachable
            self._reachable = True
            self._offline_reason = None
        return was

    def snapshot(self) -> LlmStatus:
        with self._lock:
            latencies = list(self._latencies)
            return LlmStatus(
                reachable=self._reachable,
                model=self._model,
                host=self._host,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                calls=self._calls,
                abstentions=self._abstentions,
                median_latency_ms=round(statistics.median(latencies), 1) if latencies else None,
                offline_reason=self._offline_reason,
            )

    def _record_error(self, message: str) -> None:
        """Callers hold the lock."""
        self._last_error = message
        self._last_error_at = self._utc_now().astimezone(UTC).isoformat(timespec="seconds")
