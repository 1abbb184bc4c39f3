"""Events: every error with its traceback, every restart and why. Also a logging handler."""

from __future__ import annotations

import logging
import queue
import sys
import threading
import traceback as tb

from sqlalchemy.orm import Session, sessionmaker

from data.store.db import transaction, utcnow
from data.store.market_clock import market_now
from data.store.models import Event

BUSY_FLUSH_SECONDS = 20.0


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
    wall = utcnow()
    with transaction(factory) as session:
        session.add(
            Event(
                ts=wall,
                market_ts=market_now(session, wall),
                level=level,
                source=source,
                kind=kind,
                message=message[:4000],
                traceback=traceback,
            )
        )


class EventsHandler(logging.Handler):
    """Copies warnings, errors and named INFO events into `events`, tracebacks included.

    Rows are written by a thread of their own: logging must never wait for a locked database,
    or the error that reports a lock would itself stall the caller.
    """

    def __init__(self, factory: sessionmaker[Session], source: str) -> None:
        super().__init__(level=logging.INFO)
        self.factory = factory
        self.source = source
        self._pending: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write_rows, name="events-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "skip_events", False):
            return
        # Warnings and worse always; lower levels only when they name an event kind.
        if record.levelno < logging.WARNING and not hasattr(record, "kind"):
            return
        try:
            trace = "".join(tb.format_exception(*record.exc_info)) if record.exc_info else ""
            kind = getattr(record, "kind", "log")
            self._pending.put((record.levelname, kind, record.getMessage(), trace))
        except Exception:
            self.handleError(record)

    def _write_rows(self) -> None:
        while (row := self._pending.get()) is not None:
            level, kind, message, trace = row
            try:
                record_event(self.factory, level, self.source, kind, message, traceback=trace)
            except Exception as exc:
                # The database itself may be the failure; the log file still has the record.
                print(f"volt: could not store event {message!r}: {exc}", file=sys.stderr)
            finally:
                self._pending.task_done()
        self._pending.task_done()

    def flush(self) -> None:
        """Wait until every queued event is written."""
        if self._writer.is_alive():
            self._pending.join()

    def close(self) -> None:
        if self._writer.is_alive():
            self._pending.put(None)
            self._writer.join(timeout=BUSY_FLUSH_SECONDS)
        super().close()
