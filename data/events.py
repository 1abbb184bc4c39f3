"""Events: every error with its traceback, every restart and why. Also a logging handler."""

from __future__ import annotations

import logging
import traceback as tb

from sqlalchemy.orm import Session, sessionmaker

from data.db import transaction, utcnow
from data.models import Event


def record_event(
    factory: sessionmaker[Session],
    level: str,
    source: str,
    kind: str,
    message: str,
    exc: BaseException | None = None,
    traceback: str = "",
) -> None:
    if exc is not None and not traceback:
        traceback = "".join(tb.format_exception(exc))
    with transaction(factory) as session:
        session.add(
            Event(
                ts=utcnow(),
                level=level,
                source=source,
                kind=kind,
                message=message[:4000],
                traceback=traceback,
            )
        )


class EventsHandler(logging.Handler):
    """Copies WARNING and above into `events`, tracebacks included, so the dashboard shows them."""

    def __init__(self, factory: sessionmaker[Session], source: str) -> None:
        super().__init__(level=logging.WARNING)
        self.factory = factory
        self.source = source

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "skip_events", False):
            return
        try:
            trace = "".join(tb.format_exception(*record.exc_info)) if record.exc_info else ""
            record_event(
                self.factory,
                record.levelname,
                self.source,
                getattr(record, "kind", "log"),
                record.getMessage(),
                traceback=trace,
            )
        except Exception:
            # The database itself may be the failure; the log file still has the record.
            self.handleError(record)
