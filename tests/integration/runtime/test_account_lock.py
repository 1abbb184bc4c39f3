"""One trading process per account: a second engine beside a running one is refused with one
line naming it, writes nothing and leaves the first one trading; research runs beside it; a
killed holder blocks nobody; an exchange account is one account across VOLT_HOMEs."""

import os
import re
import signal
import subprocess
import sys

import pytest

from engine.runtime.account_lock import ENGINE_RUN, exchange_account, home_account, read_holder
from tests.support.runs import ROOT, run_engine, start_engine, volt_env, wait_for
from tests.support.supervised import RunningSupervisor

REFUSED_BY_SUPERVISOR = re.compile(
    r"volt: refused: this account is already traded by the supervisor \(pid (\d+), "
    r"started \d{4}-\d\d-\d\d \d\d:\d\d UTC, VOLT_HOME (\S+)\); stop it with ./start.sh stop"
)


@pytest.fixture
def supervisor(volt_home, fast_config, store):
    running = RunningSupervisor(volt_home, fast_config, store[1])
    yield running
    running.stop()


def test_engine_run_beside_the_supervisor_is_refused_in_one_line(
    supervisor, volt_home, fast_config
):
    supervisor.wait_for_ticking_worker()
    second = run_engine(
        "run", "--speed", "7200", "--for", "5", "--config", str(fast_config),
        VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert second.returncode == 3
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    refused = REFUSED_BY_SUPERVISOR.fullmatch(lines[0])
    assert refused, lines[0]
    assert int(refused[1]) == supervisor.process.pid
    assert refused[2] == str(volt_home)


def test_the_refused_run_writes_nothing_and_the_worker_keeps_ticking(
    supervisor, volt_home, fast_config
):
    worker = supervisor.wait_for_ticking_worker()
    second = start_engine(
        "run", "--speed", "7200", "--for", "5", "--config", str(fast_config),
        VOLT_HOME=str(volt_home),
    )  # fmt: skip
    second.communicate(timeout=60)
    assert second.returncode == 3
    refused_at = supervisor.state().heartbeat_at
    # The worker's log names every writer's pid: the refused one never got that far.
    assert f" {second.pid} volt." not in (volt_home / "logs" / "worker.log").read_text()
    wait_for(lambda: supervisor.state().heartbeat_at > refused_at, 30, "the worker's next tick")
    state = supervisor.state()
    assert state.worker_pid == worker and state.restarts == 0 and state.status == "running"


def test_a_supervised_worker_started_by_hand_is_refused(supervisor, volt_home, fast_config):
    """`--supervisor-pid` is not a way in: only the open lock a supervisor hands down is."""
    supervisor.wait_for_ticking_worker()
    second = run_engine(
        "run", "--for", "5", "--config", str(fast_config),
        "--supervisor-pid", str(supervisor.process.pid), VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert second.returncode == 3
    assert REFUSED_BY_SUPERVISOR.fullmatch(second.stderr.strip()), second.stderr


def test_a_second_supervisor_is_refused_naming_the_first(supervisor, volt_home, fast_config):
    supervisor.wait_for_ticking_worker()
    second = run_engine("supervise", "--config", str(fast_config), VOLT_HOME=str(volt_home))
    assert second.returncode == 3
    refused = REFUSED_BY_SUPERVISOR.fullmatch(second.stderr.strip())
    assert refused and int(refused[1]) == supervisor.process.pid, second.stderr


def test_a_backtest_runs_beside_the_supervisor(supervisor, volt_home):
    supervisor.wait_for_ticking_worker()
    done = run_engine(
        "backtest", "--synthetic", "7", "--to", "2026-01-02", "--draws", "0",
        VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "refused" not in done.stderr


def test_a_sigkilled_engine_run_blocks_no_next_start(volt_home, fast_config):
    first = start_engine("run", "--for", "60", "--config", str(fast_config))
    try:
        holder = wait_for(lambda: read_holder(home_account(volt_home)), 30, "the lock taken")
        assert (holder.pid, holder.role) == (first.pid, ENGINE_RUN)
    finally:
        first.kill()
        first.communicate(timeout=30)
    assert str(first.pid) in home_account(volt_home).path.read_text()  # what it left behind
    assert read_holder(home_account(volt_home)) is None

    again = run_engine("run", "--for", "2", "--config", str(fast_config))
    assert again.returncode == 0, again.stderr


def test_a_sigkilled_supervisors_worker_stops_and_the_next_supervisor_starts(
    volt_home, fast_config, store
):
    first = RunningSupervisor(volt_home, fast_config, store[1])
    worker = first.wait_for_ticking_worker()
    first.process.send_signal(signal.SIGKILL)
    assert first.stop() == -signal.SIGKILL
    # The orphan worker shares the lock until it sees its supervisor gone, then stops.
    wait_for(lambda: read_holder(home_account(volt_home)) is None, 30, "the lock freed")
    second = RunningSupervisor(volt_home, fast_config, store[1])
    try:
        assert second.wait_for_ticking_worker(other_than=worker) != worker
    finally:
        assert second.stop() == 0


TESTNET = """
mode = "testnet"
[market]
pairs = ["BTC/USDT"]
[feed]
kind = "ccxt"
[broker]
kind = "ccxt"
[clock]
speed = 1.0
"""

HOLD_AS_SUPERVISOR = """
import sys
from config import load_config
from engine.runtime.account_lock import SUPERVISOR, AccountLock
AccountLock.for_trading(load_config(sys.argv[1]), SUPERVISOR).acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_a_second_volt_home_on_the_same_testnet_key_is_refused(tmp_path):
    config = tmp_path / "testnet.toml"
    config.write_text(TESTNET)
    first_home, second_home = tmp_path / "first", tmp_path / "second"
    first_home.mkdir()
    second_home.mkdir()
    shared = {
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "VOLT_API_KEY": "fake-testnet-key",
        "VOLT_API_SECRET": "fake-testnet-secret",
        "HTTPS_PROXY": "http://127.0.0.1:9",  # should anything try the real testnet
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_AS_SUPERVISOR, str(config)],
        cwd=ROOT,
        env=volt_env(VOLT_HOME=str(first_home), **shared),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        second = run_engine(
            "run", "--for", "5", "--config", str(config), VOLT_HOME=str(second_home), **shared
        )
    finally:
        holder.communicate("", timeout=30)
    assert second.returncode == 3
    assert second.stderr.strip().startswith(
        "volt: refused: the binance testnet account of this API key is already traded by "
        f"the supervisor (pid {holder.pid}, started "
    ), second.stderr
    assert second.stderr.strip().endswith(
        f"VOLT_HOME {first_home}); stop it with VOLT_HOME={first_home} ./start.sh stop"
    ), second.stderr
    assert "fake-testnet-key" not in second.stderr
    lock_files = os.listdir(tmp_path / "run" / "volt" / "accounts")
    assert len(lock_files) == 1 and "fake-testnet-key" not in lock_files[0]
    assert exchange_account("binance", True, "fake-testnet-key").name in second.stderr
