"""The LLM's health as the dashboard shows it: online, degraded (most recent votes abstain,
and mostly why) or offline; counters and the last error."""

from __future__ import annotations

import statistics
import threading
from collections import Counter, deque
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
    # "online", "degraded" (the recent abstain rate passed the limit), "offline" or
    # "not checked"; over the last `recent_calls` votes (the engine's stop not counted).
    state: str = "not checked"
    recent_calls: int = 0
    recent_abstain_rate: float | None = None
    dominant_reason: str | None = None  # the commonest abstention's kind and latest reason


class LlmHealth:
    """Thread-safe: a late request's thread and the trading loop both report here."""

    def __init__(
        self,
        model: str,
        host: str,
        utc_now: Callable[[], datetime],
        degraded_rate: float = 0.5,
        window: int = 20,
    ) -> None:
        self._model = model
        self._degraded_rate = degraded_rate
        # The last votes: (None, "") for a vote, (kind, reason) for an abstention.
        self._recent: deque[tuple[str | None, str]] = deque(maxlen=window)
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
            self._recent.append((None, ""))

    def count_abstention(self, kind: str, reason: str) -> bool:
        """Record an abstention of `kind`; True when the last one was of the same kind."""
        with self._lock:
            self._abstentions += 1
            self._record_error(reason)
            if kind != "stopped":  # the engine's own stop says nothing of the model
                self._recent.append((kind, reason))
            repeated = kind == self._last_failure
            self._last_failure = kind
        return repeated

    def count_offline_abstention(self, reason: str) -> None:
        with self._lock:
            self._abstentions += 1
            self._recent.append(("offline", reason))

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
            recent = list(self._recent)
            abstained = [(kind, reason) for kind, reason in recent if kind is not None]
            rate = len(abstained) / len(recent) if recent else None
            dominant = None
            if abstained:
                kind, count = Counter(kind for kind, _ in abstained).most_common(1)[0]
                latest = next(r for k, r in reversed(abstained) if k == kind)
                dominant = f"{kind}: {latest} ({count} of the last {len(recent)} votes)"
            if self._reachable is None:
                state = "not checked"
            elif self._reachable is False:
                state = "offline"
            elif rate is not None and rate > self._degraded_rate:
                state = "degraded"
            else:
                state = "online"
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
                state=state,
                recent_calls=len(recent),
                recent_abstain_rate=round(rate, 3) if rate is not None else None,
                dominant_reason=dominant,
            )

    def _record_error(self, message: str) -> None:
        """Callers hold the lock."""
        self._last_error = message
        self._last_error_at = self._utc_now().astimezone(UTC).isoformat(timespec="seconds")
