"""Store faults told apart from crashes: a database locked by another process or a full disk
passes by itself (wait it out, keep stops working); a read-only or corrupt store does not
(halt once, naming the cause). Each is one sentence a person can act on."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

LOCKED = "locked"
FULL = "disk_full"
READ_ONLY = "read_only"
CORRUPT = "corrupt"

DISK_FULL_SENTENCE = "disk full: new entries paused; stops keep working"
READ_ONLY_SENTENCE = "VOLT_HOME is read-only: the store cannot be written"


@dataclass(frozen=True)
class StoreFault:
    kind: str  # LOCKED, FULL, READ_ONLY or CORRUPT
    sentence: str

    @property
    def passes_by_itself(self) -> bool:
        """Waited out and retried, never counted as a crash."""
        return self.kind in (LOCKED, FULL)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


def store_fault(exc: BaseException, database: str = "volt.db") -> StoreFault | None:
    """The store fault behind `exc` (a SQLAlchemy error, the driver's, an OSError), if any."""
    for cause in _chain(exc):
        code = getattr(cause, "errno", None)
        # The driver's own words, without SQLAlchemy's "(sqlite3.DatabaseError) " in front.
        said = re.sub(r"^\([\w.]+\) ", "", str(cause).splitlines()[0]) if str(cause) else ""
        text = said.lower()
        if code in (errno.ENOSPC, errno.EDQUOT) or "database or disk is full" in text:
            return StoreFault(FULL, DISK_FULL_SENTENCE)
        if "database is locked" in text or "database table is locked" in text:
            return StoreFault(LOCKED, "the database is locked by another process: waiting for it")
        if code == errno.EROFS or "readonly database" in text or "read-only file" in text:
            return StoreFault(READ_ONLY, READ_ONLY_SENTENCE)
        if "file is not a database" in text or "disk image is malformed" in text:
            return StoreFault(
                CORRUPT,
                f"the database {database} is corrupt (sqlite: {text}): restore it or move it away",
            )
    return None


def probe_store(factory) -> StoreFault | None:
    """One small write: the fault that stops the store taking it, or None when it can (or
    when what stops it is no store fault: that one is a crash like any other)."""
    from data.store.state import update_state  # state imports the models; faults stays light

    try:
        update_state(factory)
    except Exception as exc:
        fault = store_fault(exc)
        if fault is None and "unable to open database file" in str(exc):
            # SQLite's word for a WAL database whose folder cannot be written (-shm, -wal).
            database = factory.kw["bind"].url.database or ""
            folder = os.path.dirname(os.path.abspath(database))
            if os.path.isdir(folder) and not os.access(folder, os.W_OK):
                fault = StoreFault(READ_ONLY, READ_ONLY_SENTENCE)
        return fault
    return None


FULL_BELOW_BYTES = 64 * 1024  # less room than this cannot take a tick's rows


def disk_full(store) -> bool:
    """The store's disk (a SQLite file's folder; VOLT_HOME, where the logs go, otherwise)
    has no room left; `store` an Engine or a session factory. A statvfs: instant, it never
    waits on the database."""
    from data.store.db import volt_home

    url = store.url if hasattr(store, "url") else store.kw["bind"].url
    database = url.database if url.get_backend_name() == "sqlite" else None
    folder = os.path.dirname(os.path.abspath(database)) if database else str(volt_home())
    try:
        room = os.statvfs(folder)
    except OSError:
        return False
    return room.f_bavail * room.f_frsize < FULL_BELOW_BYTES
