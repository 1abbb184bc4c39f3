"""`--detach` survives a closed terminal; `status` and `stop` manage it; no stale lock."""

import os
import signal
import subprocess

import pytest

from data.store.db import make_engine, make_session_factory
from engine.runtime.control import find_processes, pid_alive
from tests.support.runs import ROOT, free_port, volt_env

pytestmark = pytest.mark.timeout(300)


def start_sh(*args: str, env: dict, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./start.sh", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def env(volt_home, fast_config):
    env = volt_env(
        VOLT_HOME=str(volt_home), VOLT_PORT=str(free_port()), VOLT_CONFIG=str(fast_config)
    )
    yield env
    start_sh("stop", env=env | {"VOLT_STOP_TIMEOUT": "20"})


def processes():
    return find_processes(make_session_factory(make_engine()))


def test_detached_volt_ignores_sighup_refuses_a_second_start_and_stops(env):
    started = start_sh("--detach", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "VOLT is running" in started.stdout
    running = processes().alive()
    assert set(running) == {"launcher", "supervisor", "worker", "dashboard"}

    for pid in running.values():  # what closing the terminal would send
        os.kill(pid, signal.SIGHUP)
    status = start_sh("status", env=env)
    assert status.returncode == 0, status.stdout
    assert processes().alive() == running

    second = start_sh("--detach", env=env)
    assert second.returncode == 1
    assert "VOLT is already running" in second.stderr

    stopped = start_sh("stop", env=env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "no new orders" in stopped.stdout
    assert not any(pid_alive(pid) for pid in running.values())
    after = start_sh("status", env=env)
    assert after.returncode == 3 and "VOLT is not running" in after.stdout


def test_a_crashed_run_leaves_no_stale_lock(env):
    assert start_sh("--detach", env=env).returncode == 0
    crashed = processes().alive()
    for pid in crashed.values():
        os.kill(pid, signal.SIGKILL)
    assert start_sh("status", env=env).returncode == 3

    again = start_sh("--detach", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(processes().alive()) == {"launcher", "supervisor", "worker", "dashboard"}


def test_stop_forces_processes_that_do_not_stop_in_time(env):
    assert start_sh("--detach", env=env).returncode == 0
    running = processes().alive()
    for name in ("launcher", "supervisor"):
        os.kill(running[name], signal.SIGSTOP)  # frozen: cannot act on TERM
    stopped = start_sh("stop", env=env | {"VOLT_STOP_TIMEOUT": "3"})
    assert stopped.returncode == 1
    assert "did not stop within 3 s; killed" in stopped.stdout
    assert not any(pid_alive(pid) for pid in running.values())
