"""Events: every error with its traceback, every restart and why. Also a logging handler."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import traceback as tb
from collections import deque

from sqlalchemy.orm import Session, sessionmaker

from data.store.db import transaction, utcnow
from data.store.market_clock import market_now
from data.store.models import Event

BUSY_FLUSH_SECONDS = 20.0
MAX_PENDING = 2000  # rows kept while the store cannot be written; more are counted, dropped
RETRY_SECONDS = 2.0
log = logging.getLogger("volt.events")


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
    or the error that reports a lock would itself stall the caller. A store that cannot be
    written (a full disk, a lock held for minutes) never ends that thread: the rows wait in a
    bounded buffer, what does not fit is counted in `dropped`, and writing resumes by itself
    (with one event saying how many were dropped) once the store takes a row again.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        source: str,
        *,
        max_pending: int = MAX_PENDING,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        super().__init__(level=logging.INFO)
        self.factory = factory
        self.source = source
        self.max_pending = max_pending
        self.retry_seconds = retry_seconds
        self.dropped = 0  # rows lost since the store last took one
        self.dropped_total = 0
        self.outage = ""  # why the store cannot be written, while it cannot
        self._rows: deque[tuple[str, str, str, str]] = deque()
        self._changed = threading.Condition()
        self._writing = False
        self._closing = threading.Event()
        self._writer = threading.Thread(target=self._write_rows, name="events-writer", daemon=True)
        self._writer.start()

    def filter(self, record: logging.LogRecord) -> bool:
        # Here, not in emit: `handle` takes this handler's lock only after filtering, and
        # the writer's own log line (skip_events) must never wait for that lock, which
        # logging.shutdown holds while it flushes.
        return not getattr(record, "skip_events", False) and bool(super().filter(record))

    def emit(self, record: logging.LogRecord) -> None:
        # Warnings and worse always; lower levels only when they name an event kind.
        if record.levelno < logging.WARNING and not hasattr(record, "kind"):
            return
        try:
            trace = "".join(tb.format_exception(*record.exc_info)) if record.exc_info else ""
            kind = getattr(record, "kind", "log")
            row = (record.levelname, kind, record.getMessage(), trace)
        except Exception:
            self.handleError(record)
            return
        with self._changed:
            if len(self._rows) >= self.max_pending:
                self._drop(1)  # the oldest stay: they say how the outage began
                return
            self._rows.append(row)
            self._changed.notify_all()

    def _drop(self, count: int) -> None:
        self.dropped += count
        self.dropped_total += count

    def _write_rows(self) -> None:
        while True:
            with self._changed:
                while not self._rows and not self._closing.is_set():
                    self._changed.wait()
                if not self._rows:
                    return
                row = self._rows[0]
                self._writing = True
            written = self._write(row)
            with self._changed:
                self._writing = False
                if written:
                    self._rows.popleft()
                elif self._closing.is_set():
                    self._drop(len(self._rows))
                    self._rows.clear()
                self._changed.notify_all()
            if not written:
                self._closing.wait(self.retry_seconds)

    def _write(self, row: tuple[str, str, str, str]) -> bool:
        level, kind, message, trace = row
        try:
            if self.outage:
                self._store_resumed()
            record_event(self.factory, level, self.source, kind, message, traceback=trace)
        except Exception as exc:
            if not self.outage:
                self.outage = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                said = (
                    f"events cannot be stored ({self.outage}); keeping up to "
                    f"{self.max_pending} in memory and retrying every {self.retry_seconds:g} s"
                )
                _say(f"volt: {said}")
                # The traceback goes to the log file (logging never raises on a full disk);
                # the row that says so is the "stored again" event once the store takes one.
                log.warning(said, exc_info=True, extra={"skip_events": True})
            return False
        return True

    def _store_resumed(self) -> None:
        """The first row the store takes after an outage says what the outage cost."""
        with self._changed:
            dropped = self.dropped
        message = (
            f"events are stored again after: {self.outage}; "
            f"{dropped} event(s) dropped meanwhile (the log file has them)"
        )
        record_event(self.factory, "WARNING", self.source, "events_resumed", message)
        with self._changed:
            self.dropped -= dropped
        self.outage = ""

    def flush(self, timeout: float = BUSY_FLUSH_SECONDS) -> bool:
        """Wait until every queued event is written (at most `timeout` seconds); False when
        some are still waiting for the store."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (self._rows or self._writing) and self._writer.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def close(self) -> None:
        if self._writer.is_alive():
            self.flush(0.0 if self.outage else BUSY_FLUSH_SECONDS)
            self._closing.set()
            with self._changed:
                self._changed.notify_all()
            self._writer.join(timeout=BUSY_FLUSH_SECONDS)
        super().close()


def flush_events(timeout: float = 5.0) -> bool:
    """Wait (at most `timeout` s each) until this process's queued events are written: for
    records that must outlive a kill right after them. False while the store refuses them."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, EventsHandler)]
    return all([h.flush(timeout) for h in handlers])


def _say(line: str) -> None:
    """stderr may sit on the same full disk: a failed print must not end the writer."""
    with contextlib.suppress(Exception):
        print(line, file=sys.stderr, flush=True)
