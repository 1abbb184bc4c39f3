"""Sentiment from the public Fear & Greed index over HTTP, read contrarian.

The index is market-wide and changes once a day, so it is fetched at most every
`refresh_seconds` and shared by every pair. When it cannot be had, the agent abstains and
says why: an unknown mood is not a neutral one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta

import httpx

from data.types import Action, Vote, VoteSource

log = logging.getLogger("volt.sentiment")
RETRY_AFTER_FAILURE_SECONDS = 300.0
STALE_AFTER = timedelta(days=2)  # the index is daily; older than this is not today's mood


class IndexUnavailable(Exception):
    """The index could not be fetched or read."""


class FearGreedSentiment:
    name = "sentiment"

    def __init__(
        self,
        url: str,
        refresh_seconds: float,
        timeout_seconds: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.refresh_seconds = refresh_seconds
        self.timeout_seconds = timeout_seconds
        self._monotonic = monotonic
        self._reading: tuple[int, str, datetime] | None = None
        self._error = ""
        self._next_fetch = 0.0
        self._inflight: Future | None = None

    def vote(self, brief: object = None) -> Vote:
        """Never waits longer than `timeout_seconds`: httpx's timeout bounds each phase of a
        request, not the whole, so the fetch runs in its own thread and a late one is left
        to finish while this vote uses what is known."""
        if self._inflight is None and self._monotonic() >= self._next_fetch:
            self._inflight = Future()
            threading.Thread(target=self._fetch_into, args=(self._inflight,), daemon=True).start()
        if self._inflight is not None:
            try:
                outcome = self._inflight.result(timeout=self.timeout_seconds)
            except FutureTimeout:
                if self._reading is None:
                    self._error = f"no answer from {self.url} within {self.timeout_seconds:g} s"
            else:
                self._inflight = None
                self._apply(outcome)
        if self._reading is None:
            return Vote(
                self.name,
                Action.HOLD,
                0.0,
                f"abstained: the Fear & Greed index is unavailable ({self._error})",
                VoteSource.ABSTAIN,
                {"error": self._error},
            )
        value, label, stamped = self._reading
        return _contrarian_vote(self.name, value, label, stamped)

    def _fetch_into(self, future: Future) -> None:
        try:
            future.set_result(self._fetch())
        except IndexUnavailable as exc:
            future.set_result(exc)
        except Exception as exc:  # a bug in the fetch must still end the wait
            log.exception("Fear & Greed fetch failed unexpectedly")
            future.set_result(IndexUnavailable(f"{type(exc).__name__}: {exc}"))

    def _apply(self, outcome: tuple[int, str, datetime] | IndexUnavailable) -> None:
        if not isinstance(outcome, IndexUnavailable):
            self._reading = outcome
            if self._error:
                log.info("the Fear & Greed index is back", extra={"kind": "sentiment"})
            self._error = ""
            self._next_fetch = self._monotonic() + self.refresh_seconds
        else:
            exc = outcome
            if str(exc) != self._error:
                log.warning(
                    "Fear & Greed index unavailable, the sentiment agent abstains: %s",
                    exc,
                    extra={"kind": "sentiment"},
                )
            self._reading, self._error = None, str(exc)
            self._next_fetch = self._monotonic() + min(
                self.refresh_seconds, RETRY_AFTER_FAILURE_SECONDS
            )

    def _fetch(self) -> tuple[int, str, datetime]:
        try:
            response = httpx.get(self.url, timeout=self.timeout_seconds)
            response.raise_for_status()
            latest = response.json()["data"][0]
            value = int(latest["value"])
            stamped = datetime.fromtimestamp(int(latest["timestamp"]), UTC)
            label = str(latest.get("value_classification", ""))
        except httpx.HTTPStatusError as exc:
            raise IndexUnavailable(f"HTTP {exc.response.status_code} from {self.url}") from None
        except httpx.HTTPError as exc:
            raise IndexUnavailable(f"{type(exc).__name__} reaching {self.url}: {exc}") from None
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise IndexUnavailable(f"unreadable reply from {self.url}: {exc!r}") from None
        if not 0 <= value <= 100:
            raise IndexUnavailable(f"index value {value} is outside 0..100")
        if datetime.now(UTC) - stamped > STALE_AFTER:
            raise IndexUnavailable(f"the latest reading is from {stamped:%Y-%m-%d}, too old")
        return value, label, stamped


def _contrarian_vote(name: str, value: int, label: str, stamped: datetime) -> Vote:
    # Extreme fear is a buying opportunity, extreme greed a time to sell.
    if value <= 25:
        action, read = Action.BUY, "extreme fear: a contrarian buy"
    elif value >= 75:
        action, read = Action.SELL, "extreme greed: time to take profits"
    else:
        action, read = Action.HOLD, "no extreme"
    return Vote(
        name,
        action,
        round(abs(value - 50) / 50, 4),
        f"Fear & Greed index {value} ({label or 'unlabelled'}, {stamped:%Y-%m-%d}): {read}",
        VoteSource.RULE,
        {"fear_greed": float(value)},
    )
