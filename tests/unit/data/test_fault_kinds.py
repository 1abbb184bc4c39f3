"""Store faults are told by their real SQLite errors, not by message strings made up here."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from data.store.faults import CORRUPT, FULL, LOCKED, store_fault


def _error(url: str, statement: str) -> Exception:
    engine = create_engine(url, connect_args={"timeout": 0.05})
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    except Exception as exc:  # the error under test
        return exc
    finally:
        engine.dispose()
    pytest.fail("no error")


def test_a_write_lock_held_by_another_connection_is_locked(tmp_path):
    path = tmp_path / "volt.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        exc = _error(f"sqlite:///{path}", "INSERT INTO t VALUES (1)")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(exc, OperationalError)
    fault = store_fault(exc)
    assert fault.kind == LOCKED and fault.passes_by_itself
    assert "locked by another process" in fault.sentence


def test_a_truncated_database_is_corrupt_and_named(tmp_path):
    path = tmp_path / "volt.db"
    path.write_bytes(b"SQLite format 3\0" + b"\x07" * 300)  # a header, then garbage
    fault = store_fault(_error(f"sqlite:///{path}", "SELECT * FROM sqlite_master"))
    assert fault.kind == CORRUPT and not fault.passes_by_itself
    assert fault.sentence.startswith("the database volt.db is corrupt (sqlite: ")
    assert fault.sentence.endswith("restore it or move it away")


def test_an_os_error_for_a_full_disk_is_disk_full():
    fault = store_fault(OSError(28, "No space left on device"))
    assert fault.kind == FULL
    assert fault.sentence == "disk full: new entries paused; stops keep working"


def test_a_plain_bug_is_no_store_fault():
    assert store_fault(ValueError("division by zero")) is None
