"""A supervised engine on a disk that fills up: no crash loop and no halt; once space returns
the same worker ticks again by itself, nothing to re-arm."""

from __future__ import annotations

import time

from data.store.db import make_engine, make_session_factory
from data.store.state import read_state
from tests.support.disk import fill, small_disk
from tests.support.runs import wait_for
from tests.support.supervised import RunningSupervisor

FULL_FOR_SECONDS = 4.0  # four hang limits: a heartbeat missed that long was a hang


def test_a_full_disk_is_waited_out_by_the_same_worker(tmp_path, fast_config, monkeypatch):
    config = tmp_path / "quick-hang.toml"
    config.write_text(
        fast_config.read_text().replace("[engine]\n", "[engine]\nhang_min_seconds = 1.0\n")
    )
    with small_disk(tmp_path / "home", "64m") as home:
        monkeypatch.setenv("VOLT_HOME", str(home))
        engine = make_engine()
        factory = make_session_factory(engine)
        supervisor = RunningSupervisor(home, config, factory)
        try:
            worker = supervisor.wait_for_ticking_worker()
            fill(home)
            time.sleep(FULL_FOR_SECONDS)  # the fault lasts a while; nothing is asserted on it
            (home / "filler").unlink()
            after = read_state(factory).heartbeat_at
            wait_for(lambda: read_state(factory).heartbeat_at > after, 30, "a tick after the disk")
            state = read_state(factory)
            assert not state.halted, state.halt_reason
            assert state.worker_pid == worker and state.restarts == 0
            supervisor.stop()
            log = (home / "logs" / "worker.log").read_text()
        finally:
            if supervisor.process.poll() is None:
                supervisor.process.kill()
                supervisor.process.wait()
            engine.dispose()
    assert "disk full: new entries paused; stops keep working" in log
    assert "disk space is back: new entries resumed" in log
