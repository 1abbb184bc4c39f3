"""Retry temporary errors with exponential backoff; never retry permanent ones."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from tenacity import (
    Retrying as _Retrying,
)

from engine.venues.errors import TemporaryError

T = TypeVar("T")
FIRST_WAIT_SECONDS = 0.2  # doubles each retry, up to MAX_WAIT_SECONDS
MAX_WAIT_SECONDS = 2.0
log = logging.getLogger("volt.retry")


def with_retries(
    call: Callable[[], T],
    what: str,
    attempts: int = 4,
) -> T:
    """Run `call`; on TemporaryError wait and try again, up to `attempts` tries in all."""
    # The first try runs bare: the live loop makes several calls a tick, nearly all of
    # which succeed, and tenacity's bookkeeping is only worth paying once one has failed.
    try:
        return call()
    except TemporaryError as exc:
        if attempts <= 1:
            raise
        _note_retry(what, 1, attempts, exc)
    time.sleep(FIRST_WAIT_SECONDS)

    def _note(state: RetryCallState) -> None:
        _note_retry(what, state.attempt_number + 1, attempts, state.outcome.exception())

    retrying = _Retrying(
        retry=retry_if_exception_type(TemporaryError),
        stop=stop_after_attempt(attempts - 1),
        # Waits go on doubling from the first: 0.2 s, then 0.4 s, 0.8 s ... up to the cap.
        wait=wait_exponential(multiplier=FIRST_WAIT_SECONDS * 2, max=MAX_WAIT_SECONDS),
        before_sleep=_note,
        reraise=True,
    )
    return retrying(call)


def _note_retry(what: str, attempt: int, attempts: int, error: BaseException | None) -> None:
    log.warning(
        "%s failed (attempt %d of %d), retrying: %s",
        what,
        attempt,
        attempts,
        error,
        extra={"kind": "retry"},
    )
