"""Nothing dies silently: crashes, fatal signals and thread exceptions all become events."""

import os
import signal
import threading

from sqlalchemy import select

from data.store.models import Event
from engine.runtime.home import setup_logging
from tests.support.runs import wait_for
from tests.support.supervised import RunningSupervisor


def test_a_crash_loop_halts_the_engine_with_the_reason(volt_home, tmp_path, store, monkeypatch):
    config = tmp_path / "crashy.toml"
    config.write_text(
        "[engine]\nrestart_backoff_seconds = 0.1\nrestart_backoff_max_seconds = 0.2\n"
        "crash_loop_restarts = 3\ncrash_loop_minutes = 5\n"
    )
    # Every worker dies at start: its paper account lives in a directory that cannot exist.
    monkeypatch.setenv("VOLT_PAPER_DB_URL", "sqlite:////nonexistent/volt/paper.db")
    supervisor = RunningSupervisor(volt_home, config, store[1])
    try:
        wait_for(lambda: supervisor.state().halted, 90, "the crash loop to halt the engine")
        state = supervisor.state()
        assert state.halt_reason.startswith("crash loop: 3 restarts within 5 minutes")
        assert state.restarts == 3  # the reason's count is the state's
        assert "exited with code 1" in state.halt_reason
        assert supervisor.process.poll() is None, "the supervisor stays up, halted"
        with store[1]() as session:
            halted = session.scalars(select(Event).where(Event.kind == "halted")).one()
            died = session.scalars(select(Event).where(Event.kind == "worker_died")).all()
            why = session.scalars(
                select(Event).where(Event.message == "worker could not start")
            ).all()
        assert "crash loop" in halted.message
        assert len(died) == 3
        # Each dying worker left its own traceback: the cause, not just the exit code.
        assert why and all("unable to open database file" in e.traceback for e in why)
    finally:
        supervisor.stop()


def test_a_fatal_signal_leaves_its_stack_in_the_restart_event(volt_home, fast_config, store):
    supervisor = RunningSupervisor(volt_home, fast_config, store[1])
    try:
        worker = supervisor.wait_for_ticking_worker()
        os.kill(worker, signal.SIGABRT)  # as a crash in native code would
        supervisor.wait_for_ticking_worker(other_than=worker)
        with store[1]() as session:
            event = session.scalars(select(Event).where(Event.kind == "worker_died")).one()
        assert f"worker {worker} killed by signal SIGABRT" in event.message
        assert "Fatal Python error: Aborted" in event.traceback
    finally:
        supervisor.stop()


def test_an_uncaught_exception_in_a_thread_becomes_an_event(store):
    import logging
    import sys

    saved = (sys.excepthook, threading.excepthook, logging.getLogger().handlers[:])
    try:
        setup_logging("worker", store[1], console=False)

        def doomed() -> None:
            raise ValueError("lost in a thread (test)")

        thread = threading.Thread(target=doomed, name="feed-poller")
        thread.start()
        thread.join()
        for handler in logging.getLogger().handlers:
            handler.flush()
    finally:
        for handler in logging.getLogger().handlers:
            if handler not in saved[2]:
                handler.close()
        sys.excepthook, threading.excepthook = saved[0], saved[1]
        logging.getLogger().handlers[:] = saved[2]
    with store[1]() as session:
        event = session.scalars(select(Event).where(Event.level == "CRITICAL")).one()
    assert event.message == "uncaught exception in thread feed-poller"
    assert "ValueError: lost in a thread (test)" in event.traceback
