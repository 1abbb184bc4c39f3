"""Retry temporary errors with exponential backoff; never retry permanent ones."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity import (
    Retrying as _Retrying,
)

from engine.venues.errors import ExchangePaused, TemporaryError

T = TypeVar("T")
FIRST_WAIT_SECONDS = 0.2  # doubles each retry, up to MAX_WAIT_SECONDS
MAX_WAIT_SECONDS = 2.0
# An exchange's pause (429 Retry-After, IP ban) is waited out up to this long; a longer one
# fails the step at once, and calls stay refused unsent until it ends.
MAX_PAUSE_WAIT_SECONDS = 10.0
PAUSE_MARGIN_SECONDS = 0.05
sleep: Callable[[float], None] = time.sleep  # every wait goes through here (tests: a fake clock)
log = logging.getLogger("volt.retry")


def with_retries(
    call: Callable[[], T],
    what: str,
    attempts: int = 4,
    max_pause_seconds: float = MAX_PAUSE_WAIT_SECONDS,
) -> T:
    """Run `call`; on TemporaryError wait and try again, up to `attempts` tries in all.
    When the exchange asked for a pause (ExchangePaused), the wait lasts until it ends, and
    a pause longer than `max_pause_seconds` is raised at once: the step fails, not the tick."""
    # The first try runs bare: the live loop makes several calls a tick, nearly all of
    # which succeed, and tenacity's bookkeeping is only worth paying once one has failed.
    try:
        return call()
    except TemporaryError as exc:
        if attempts <= 1 or _paused(exc) > max_pause_seconds:
            raise
        _note_retry(what, 1, attempts, exc)
        first_wait = max(FIRST_WAIT_SECONDS, _paused(exc))
    sleep(first_wait)

    def _note(state: RetryCallState) -> None:
        _note_retry(what, state.attempt_number + 1, attempts, state.outcome.exception())

    # Waits go on doubling from the first: 0.2 s, then 0.4 s, 0.8 s ... up to the cap.
    backoff = wait_exponential(multiplier=FIRST_WAIT_SECONDS * 2, max=MAX_WAIT_SECONDS)

    def _wait(state: RetryCallState) -> float:
        return max(backoff(state), _paused(state.outcome.exception()))

    retrying = _Retrying(
        retry=retry_if_exception(
            lambda exc: isinstance(exc, TemporaryError) and _paused(exc) <= max_pause_seconds
        ),
        stop=stop_after_attempt(attempts - 1),
        wait=_wait,
        sleep=lambda seconds: sleep(seconds),  # looked up at each wait: tests replace it
        before_sleep=_note,
        reraise=True,
    )
    return retrying(call)


def _paused(error: BaseException | None) -> float:
    """How long the exchange asked not to be called (0 when it did not), plus a margin so the
    next try comes after the pause, not at its last instant."""
    if isinstance(error, ExchangePaused) and error.seconds > 0:
        return error.seconds + PAUSE_MARGIN_SECONDS
    return 0.0


def _note_retry(what: str, attempt: int, attempts: int, error: BaseException | None) -> None:
    log.warning(
        "%s failed (attempt %d of %d), retrying: %s",
        what,
        attempt,
        attempts,
        error,
        extra={"kind": "retry"},
    )
