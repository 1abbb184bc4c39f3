"""Before anything starts: VOLT_HOME can be written and the database answers, or one line
says which and why, instead of a shell error per file, a 100-line traceback, or a start that
hangs on a host that swallows packets. `check`, `supervise` and `run` all ask here."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from sqlalchemy import URL, create_engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from data.store.db import database_url, volt_home

# Long enough for a slow network's handshake, short enough that ./start.sh says why in
# seconds; the driver enforces it (libpq-style connect_timeout, whole seconds, at least 2).
CONNECT_TIMEOUT_SECONDS = 5
_WHY = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the filesystem is read-only",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
    errno.ENOENT: "a folder on the way does not exist",
}
_EXAMPLE = "e.g. postgresql+psycopg://user:password@host:5432/volt or sqlite:////path/volt.db"


class StoreUnavailable(Exception):
    """VOLT_HOME or the database cannot be used; the message is one line naming which."""


def check_home_writable() -> Path:
    """VOLT_HOME exists (made if need be) and takes a written, synced file."""
    named = os.environ.get("VOLT_HOME") or "the default ./var"
    try:
        home = volt_home()
        named = str(home)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".volt-write-check-") as probe:
            probe.write(b"\0" * 4096)  # a full disk still creates an empty file
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        why = _WHY.get(exc.errno, exc.strerror or str(exc))
        raise StoreUnavailable(
            f"VOLT_HOME={named} cannot be written: {why}; free space, "
            "fix its permissions or set VOLT_HOME to a writable folder"
        ) from None
    return home


def _source(url: URL | None) -> str:
    """How the line names the store: never with its password."""
    given = "VOLT_DB_URL" if os.environ.get("VOLT_DB_URL") else "the database"
    if url is None:
        return given
    if url.get_backend_name() == "sqlite":
        return f"{given} {url.database}"
    return f"{given} {url.render_as_string(hide_password=True)}"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def check_database(url: str | None = None, timeout: float = CONNECT_TIMEOUT_SECONDS) -> str:
    """Parse the store's URL and open one connection within `timeout` seconds; returns what
    answered ('postgresql at host:port/db', 'sqlite /path/volt.db')."""
    raw = url or database_url()
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise StoreUnavailable(f"{_source(None)} is not a database URL: {_EXAMPLE}") from None
    postgres = parsed.get_backend_name() == "postgresql"
    connect_args = {"connect_timeout": max(2, round(timeout))} if postgres else {}
    try:
        engine = create_engine(parsed, connect_args=connect_args, poolclass=NullPool)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreUnavailable(
            f"{_source(parsed)}: no database driver {parsed.drivername!r} here ({_one_line(exc)}); "
            f"{_EXAMPLE}"
        ) from None
    try:
        with engine.connect() as conn:
            # On SQLite this reads the file's header: a truncated or foreign file fails here.
            sqlite = parsed.get_backend_name() == "sqlite"
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master" if sqlite else "SELECT 1")
    except DBAPIError as exc:
        raise StoreUnavailable(
            f"{_source(parsed)} does not answer: {_one_line(exc.orig or exc)}"
        ) from None
    finally:
        engine.dispose()
    if postgres:
        return f"postgresql at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
    return f"{parsed.get_backend_name()} {parsed.database}"


def check_store() -> str:
    """Both checks, home first (a SQLite store lives in it); one line for `check` to print."""
    check_home_writable()
    return check_database()
