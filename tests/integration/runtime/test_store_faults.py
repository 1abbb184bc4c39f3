"""The supervisor's restart accounting tells the store's faults from crashes: a write lock
another process holds is waited out (never a crash loop), a read-only store is one halt
naming the cause, and a crash loop's reason agrees with the state's `restarts`."""

from __future__ import annotations

import logging
import sqlite3
import subprocess

import pytest

from config import load_config
from data.store import db
from data.store.state import read_state
from engine.runtime.supervisor import Supervisor
from tests.support.disk import small_disk
from tests.support.runs import sqlite_only

DIED = "worker 4242 exited with code 1"


@pytest.fixture
def supervisor(store) -> Supervisor:
    return Supervisor(load_config(None), store[1])


def test_a_crash_loop_reason_agrees_with_the_restarts_field(supervisor, store):
    limit = supervisor.settings.engine.crash_loop_restarts
    for _ in range(limit + 1):
        supervisor._restart_after(DIED, "worker_died", "")
    state = read_state(store[1])
    assert state.halted
    assert state.halt_reason.startswith(
        f"crash loop: {limit} restarts within "
        f"{supervisor.settings.engine.crash_loop_minutes:g} minutes and the worker ended again; "
        f"last: {DIED}"
    )
    assert state.restarts == limit


def test_a_write_lock_held_by_another_process_is_waited_out(store, volt_home, monkeypatch, caplog):
    sqlite_only(store)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)  # the lock is not waited for 15 s per probe
    engine = db.make_engine()
    supervisor = Supervisor(load_config(None), db.make_session_factory(engine))
    blocker = sqlite3.connect(volt_home / "volt.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.WARNING, logger="volt.supervisor"):
            for _ in range(supervisor.settings.engine.crash_loop_restarts * 3):
                supervisor._restart_after(DIED, "worker_died", "")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    state = read_state(store[1])
    assert not state.halted and state.restarts == 0
    said = [r.getMessage() for r in caplog.records if "locked by another process" in r.message]
    assert len(said) == 1 and "not counted as a crash" in said[0]
    supervisor._restart_after(DIED, "worker_died", "")  # the lock gone: a crash counts again
    assert read_state(store[1]).restarts == 1
    engine.dispose()


def test_a_read_only_store_is_one_halt_naming_it_and_no_worker_starts(tmp_path, store):
    sqlite_only(store)
    with small_disk(tmp_path / "disk", "4m") as disk:
        engine = db.make_engine(f"sqlite:///{disk / 'volt.db'}")
        factory = db.make_session_factory(engine)
        supervisor = Supervisor(load_config(None), factory)
        engine.dispose()
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remounted.stderr.decode().strip()}")
        for _ in range(3):
            supervisor._restart_after(DIED, "worker_died", "")
        engine.dispose()
    assert supervisor.store_halt.startswith("VOLT_HOME is read-only")
    assert not supervisor.recent_restarts  # not counted as crashes
