"""`./start.sh` runs the engine and the dashboard, and Ctrl-C stops them in order."""

import fcntl
import signal
import subprocess
import urllib.request

import pytest

from data.store.db import make_engine, make_session_factory
from data.store.state import read_state
from tests.support.disk import fill, small_disk
from tests.support.runs import ROOT, free_port, volt_env, wait_for


def dashboard_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


@pytest.mark.timeout(240)
def test_start_sh_runs_everything_and_ctrl_c_stops_in_order(volt_home, fast_config):
    port = free_port()
    env = volt_env(VOLT_HOME=str(volt_home), VOLT_PORT=str(port), VOLT_CONFIG=str(fast_config))
    launcher = subprocess.Popen(
        ["./start.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    factory = make_session_factory(make_engine())
    try:
        wait_for(lambda: dashboard_healthy(port), 90, "the dashboard to answer on its port")
        wait_for(
            lambda: (s := read_state(factory)).heartbeat_at and s.status == "running",
            90,
            "the engine's first successful tick",
        )
        worker = read_state(factory).worker_pid
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        output, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, output
    assert f"dashboard: http://127.0.0.1:{port}" in output, output[:3000]
    assert "stopping: no new orders, then exit" in output
    state = read_state(factory)
    assert state.status == "stopped" and state.worker_pid is None
    assert not dashboard_healthy(port)
    worker_log = (volt_home / "logs" / "worker.log").read_text()
    assert f"{worker} " in worker_log and "worker stopped" in worker_log
    # The worker cancelled open orders before the supervisor finished.
    assert worker_log.index("shutdown: cancelled") < worker_log.index("worker stopped")


def test_start_sh_refuses_a_bad_config_before_starting_anything(volt_home, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_open_positions = 0\n")
    result = subprocess.run(
        ["./start.sh"],
        cwd=ROOT,
        env=volt_env(VOLT_HOME=str(volt_home), VOLT_CONFIG=str(bad)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "risk.max_open_positions" in result.stderr
    assert not (volt_home / "logs" / "supervisor.log").exists()


def start_sh(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./start.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_second_start_refuses_and_leaves_the_running_ones_files_alone(volt_home):
    # Another ./start.sh holds this VOLT_HOME (its engine may still be starting, so `status`
    # cannot see it yet): a second one used to go on and, failing, delete its pid files.
    (volt_home / "logs").mkdir(parents=True, exist_ok=True)
    pid_files = {volt_home / "launcher.pid": "424242\n", volt_home / "dashboard.pid": "434343\n"}
    for path, text in pid_files.items():
        path.write_text(text)
    with open(volt_home / "launcher.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = start_sh(volt_env(VOLT_HOME=str(volt_home), VOLT_PORT=str(free_port())))
    assert result.returncode == 1
    assert "VOLT is already running" in result.stderr
    assert {path: path.read_text() for path in pid_files} == pid_files
    assert not (volt_home / "logs" / "supervisor.log").exists()


def test_a_volt_home_that_cannot_be_created_is_named_in_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    home = tmp_path / "a-file" / "home"
    result = start_sh(volt_env(VOLT_HOME=str(home)))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"volt: VOLT_HOME={home} cannot be created (read-only filesystem or no permission); "
        "set VOLT_HOME to a writable folder"
    ]


def test_a_full_volt_home_is_named_in_one_line_before_anything_starts(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        (disk / "logs").mkdir()
        fill(disk)
        result = start_sh(volt_env(VOLT_HOME=str(disk)))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"volt: VOLT_HOME={disk} cannot be written (read-only, no permission, or the disk is "
        "full); free space or set VOLT_HOME to a writable folder"
    ]
