"""`./start.sh` runs the engine and the dashboard, and Ctrl-C stops them in order."""

import signal
import subprocess
import urllib.request

import pytest

from data.store.db import make_engine, make_session_factory
from data.store.state import read_state
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
