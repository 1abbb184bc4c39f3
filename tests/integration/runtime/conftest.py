"""Fixtures for the supervisor's kill switch, run in-process against the real store."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from config import load_config
from tests.support.runs import START


@pytest.fixture
def kill_setup(store, volt_home, monkeypatch, tmp_path):
    """Two open positions, a supervisor whose worker already died, and a broker to break."""
    import engine.runtime.supervisor_account as account_module
    from data.store.state import update_state
    from engine.runtime.supervisor import Supervisor
    from tests.support.kill import FlakyBroker, open_positions_now

    factory = store[1]
    config = tmp_path / "default.toml"
    config.write_text("")
    update_state(factory, market_time=START + timedelta(days=2))
    open_positions_now(factory, config, ["BTC/USDT", "ETH/USDT"])
    flaky = {}
    real_build = account_module.build_account

    def build_with_flaky_broker(settings, factory, clock):
        account = real_build(settings, factory, clock)
        options = {k: v for k, v in flaky.items() if k != "broker"}
        account.broker = flaky["broker"] = FlakyBroker(account.broker, **options)
        return account

    monkeypatch.setattr(account_module, "build_account", build_with_flaky_broker)
    monkeypatch.setattr(account_module, "KILL_RETRY_SECONDS", 0.01)
    supervisor = Supervisor(load_config(), factory)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    supervisor.worker = dead
    return supervisor, factory, flaky
