"""The supervisor restarts a dead worker, says why, and answers Stop and Start."""

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select

from data.store.models import Event
from tests.support.runs import ROOT, sqlite_only, volt_env, wait_for
from tests.support.supervised import RunningSupervisor


@pytest.fixture
def supervisor(volt_home, fast_config, store):
    running = RunningSupervisor(volt_home, fast_config, store[1])
    yield running
    running.stop()


def test_sigkilled_worker_is_restarted_and_the_signal_is_recorded(supervisor, store):
    first = supervisor.wait_for_ticking_worker()
    os.kill(first, signal.SIGKILL)
    second = wait_for(
        lambda: (pid := supervisor.state().worker_pid) and pid != first and pid,
        15,
        "a new worker",
    )
    assert second != first
    with store[1]() as session:
        events = session.scalars(select(Event).where(Event.kind == "worker_died")).all()
    assert any(f"worker {first} killed by signal SIGKILL" in e.message for e in events)
    assert supervisor.state().restarts >= 1
    supervisor.wait_for_ticking_worker()


def test_stop_and_start_commands_are_acknowledged_done(supervisor):
    first = supervisor.wait_for_ticking_worker()
    stopped = supervisor.command("stop")
    assert stopped.status == "done"
    assert f"worker {first} exited with code 0" in stopped.result
    state = supervisor.state()
    assert state.worker_pid is None and state.status == "stopped" and state.desired == "stopped"
    assert supervisor.process.poll() is None, "the supervisor must stay up"

    started = supervisor.command("start")
    assert started.status == "done", started.result
    assert "trading started" in started.result
    assert supervisor.wait_for_ticking_worker() != first


def test_worker_orders_stop_after_sigterm_and_supervisor_exits_cleanly(supervisor):
    worker = supervisor.wait_for_ticking_worker()
    assert supervisor.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    assert supervisor.state().status == "stopped"


def test_second_supervisor_refuses_while_one_runs(supervisor, volt_home, fast_config):
    supervisor.wait_for_ticking_worker()
    second = subprocess.run(
        [sys.executable, "-m", "engine", "supervise", "--config", str(fast_config)],
        cwd=ROOT,
        env=volt_env(VOLT_HOME=str(volt_home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 3
    assert "volt: refused: this account is already traded by the supervisor" in second.stderr


def test_system_metrics_are_sampled_with_worker_rss(supervisor, store):
    from data import queries

    supervisor.wait_for_ticking_worker()
    # A sample taken as the worker process starts sees an interpreter not yet loaded.
    metric = wait_for(
        lambda: (m := queries.latest_metrics(store[0])) and (m["engine_rss_mb"] or 0) > 10 and m,
        15,
        "a metrics sample with the loaded worker's RSS",
    )
    assert 0 <= metric["cpu_percent"] <= 100 * os.cpu_count()
    assert 10 < metric["engine_rss_mb"] < 2000
    assert 0 < metric["memory_percent"] <= 100


def test_hung_worker_is_detected_killed_and_replaced(supervisor, store):
    hung = supervisor.wait_for_ticking_worker()
    os.kill(hung, signal.SIGSTOP)  # alive, but never ticks again
    replacement = wait_for(
        lambda: (pid := supervisor.state().worker_pid) and pid != hung and pid, 30, "a new worker"
    )
    with store[1]() as session:
        hangs = session.scalars(select(Event).where(Event.kind == "hang")).all()
    assert any(f"worker {hung} hung: no successful tick" in e.message for e in hangs)
    assert replacement != hung
    supervisor.wait_for_ticking_worker()


def test_hang_is_detected_while_another_process_holds_the_write_lock(supervisor, volt_home, store):
    import sqlite3

    sqlite_only(store)
    hung = supervisor.wait_for_ticking_worker()
    blocker = sqlite3.connect(volt_home / "volt.db", isolation_level=None, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")  # as a worker frozen mid-write would
    try:
        os.kill(hung, signal.SIGSTOP)

        def gone() -> bool:
            try:
                os.kill(hung, 0)
            except ProcessLookupError:
                return True
            # A zombie still answers kill(0); it is dead once its state says so.
            with open(f"/proc/{hung}/stat") as stat:
                return stat.read().split(") ")[1][0] == "Z"

        wait_for(gone, 20, "the supervisor to kill the hung worker despite the lock")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    supervisor.wait_for_ticking_worker(other_than=hung)
