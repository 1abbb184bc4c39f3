"""Retry temporary errors with exponential backoff; never retry permanent ones."""

from __future__ import annotations

import logging
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

from engine.errors import TemporaryError

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

    def _note(state: RetryCallState) -> None:
        log.warning(
            "%s failed (attempt %d of %d), retrying: %s",
            what,
            state.attempt_number,
            attempts,
            state.outcome.exception(),
            extra={"kind": "retry"},
        )

    retrying = _Retrying(
        retry=retry_if_exception_type(TemporaryError),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS),
        before_sleep=_note,
        reraise=True,
    )
    return retrying(call)
