"""A full disk (a real tmpfs filled to the last block, VOLT_HOME on it): the worker pauses new
entries with one event and resumes by itself once space returns; the watchdog does not take
a heartbeat the disk cannot hold for a hang."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
from datetime import timedelta

import pytest

from config import load_config
from data.queries.system import engine_state
from data.store.db import make_engine, make_session_factory, utcnow
from data.store.faults import DISK_FULL_SENTENCE
from data.store.state import update_state
from engine.clock import FastForwardClock
from engine.runtime.watchdog import Watchdog
from engine.runtime.worker import Worker
from engine.runtime.worker_process import WorkerProcess
from tests.support.disk import fill, small_disk
from tests.support.pages import open_page
from tests.support.runs import START


@pytest.fixture
def full_home(tmp_path, monkeypatch):
    """VOLT_HOME on a small tmpfs, its store open; fill it with `fill(disk)`."""
    with small_disk(tmp_path / "home", "16m") as disk:
        monkeypatch.setenv("VOLT_HOME", str(disk))
        monkeypatch.delenv("VOLT_DB_URL", raising=False)
        monkeypatch.delenv("VOLT_PAPER_DB_URL", raising=False)
        engine = make_engine()
        update_state(make_session_factory(engine), status="running")  # the row exists
        yield disk, make_session_factory(engine)
        engine.dispose()


def test_a_full_disk_pauses_entries_once_and_space_resumes_them(full_home, caplog):
    disk, factory = full_home
    worker = Worker(load_config(), factory, speed=1000.0)
    worker.clock = worker.trader.clock = FastForwardClock(START)
    fill(disk)
    with caplog.at_level(logging.WARNING, logger="volt.worker"):
        for _ in range(3):
            # What the loop catches: the store cannot take the tick.
            with contextlib.suppress(Exception):
                worker.tick_once()
        assert DISK_FULL_SENTENCE in worker.trader.entry_blocks
        (disk / "filler").unlink()
        worker.clock.advance(3600)
        worker.tick_once()
        worker.tick_once()
    assert DISK_FULL_SENTENCE not in worker.trader.entry_blocks
    said = [r.getMessage() for r in caplog.records if getattr(r, "kind", "") == "disk_full"]
    assert said == [DISK_FULL_SENTENCE, "disk space is back: new entries resumed"]


def test_the_watchdog_leaves_a_worker_alone_while_the_disk_is_full(full_home, monkeypatch):
    disk, factory = full_home
    workers = WorkerProcess()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        with workers.lock:
            workers.started(sleeper, 0)
            workers.started_at = utcnow() - timedelta(days=1)  # never ticked, grace long gone
        watchdog = Watchdog(load_config(), factory, workers, 1.0, threading.Event())
        fill(disk)
        watchdog.check_heartbeat()
        assert sleeper.poll() is None, "a heartbeat the disk cannot hold was taken for a hang"
        (disk / "filler").unlink()
        watchdog.check_heartbeat()
        assert sleeper.poll() is None, "space just came back: its next tick is not due yet"
        later = utcnow() + timedelta(seconds=watchdog.hang_limit() + 1)
        monkeypatch.setattr("engine.runtime.watchdog.utcnow", lambda: later)
        watchdog.check_heartbeat()
        assert sleeper.wait(10) is not None  # a whole hang limit with room and no tick: hung
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_dashboard_says_disk_full_while_the_worker_cannot_write_it(full_home):
    disk, factory = full_home
    engine = factory.kw["bind"]
    fill(disk)
    app = open_page("views/system.py")
    state = engine_state(engine)
    (disk / "filler").unlink()
    assert state["status"] == "disk full"
    assert DISK_FULL_SENTENCE in state["entry_blocks"]
    assert [m.value for m in app.metric][0] == "DISK FULL"
    assert any(DISK_FULL_SENTENCE in w.value for w in app.warning)
    assert engine_state(engine)["status"] == "running"  # space back: the row's own status
