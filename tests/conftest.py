"""Shared fixtures: a private VOLT_HOME with a real SQLite file per test, and helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from config import load_config  # noqa: E402
from data.store.db import make_engine, make_session_factory  # noqa: E402
from engine.clock import FastForwardClock  # noqa: E402
from engine.wiring import build_trader  # noqa: E402
from tests.support.runs import START, run_ticks, sqlite_only, volt_env  # noqa: E402,F401

# A fast setup for process tests: 3000x clock, quick metrics and restarts.
FAST_CONFIG = """
[market]
history_candles = 240
[clock]
speed = 3000.0
[engine]
tick_seconds = 60.0
restart_backoff_seconds = 0.2
restart_backoff_max_seconds = 1.0
metrics_interval_seconds = 1.0
shutdown_timeout_seconds = 10.0
[dashboard]
refresh_seconds = 60.0
"""


@pytest.fixture
def volt_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "volt-home"
    home.mkdir()
    monkeypatch.setenv("VOLT_HOME", str(home))
    monkeypatch.delenv("VOLT_DB_URL", raising=False)
    monkeypatch.delenv("VOLT_CONFIG", raising=False)
    return home


@pytest.fixture
def busy_config(tmp_path) -> Path:
    """The technical agent alone: it trades often, for tests of order mechanics."""
    path = tmp_path / "busy.toml"
    path.write_text("[agents.weights]\ntechnical = 1.0\nregime = 0.0\nsentiment = 0.0\n")
    return path


@pytest.fixture
def fast_config(tmp_path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST_CONFIG)
    return path


BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("VOLT_TEST_PG_URL") else [])
# Run on SQLite only: whole processes (supervisor, workers, start.sh, the soak), the browser,
# the loopback exchange and LLM (which wait on real timeouts), and pure logic (agents,
# backtests, property tests). They act the same on either store and are the slowest tests;
# running them twice would break the suite's 10-minute budget. The store-level modules
# (loop, journal, kill switch, commands, faults, dashboard reads) run on both.
SQLITE_ONLY_MODULES = {
    "test_alerts",
    "test_supervisor",
    "test_soak",
    "test_detach",
    "test_start_sh",
    "test_browser_seeded",
    "test_nothing_silent",
    "test_team",
    "test_agents",
    "test_backtest_parity",
    "test_next_open_parity",
    "test_backtest_risk",
    "test_learning_window",
    "test_risk_properties",
    "test_kill_fail_closed",
    "test_exchange_binance",
    "test_binance_orders",
    "test_binance_account",
    "test_binance_audit",
    "test_partial_exits",
    "test_live_mode",
    "test_laptop",
    "test_account_lock",
    "test_corrupt_store",
    "test_disk_full_supervised",
}


def pytest_collection_modifyitems(config, items):
    dropped = [
        item
        for item in items
        if "postgresql" in item.nodeid
        and item.module.__name__.rsplit(".", 1)[-1] in SQLITE_ONLY_MODULES
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@contextmanager
def fresh_postgres_database(server_url: str):
    """A new, empty database on the test server, dropped afterwards."""
    name = f"volt_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_url() -> str:
    """A fresh, empty database on the PostgreSQL test server (skipped without one)."""
    if not os.environ.get("VOLT_TEST_PG_URL"):
        pytest.skip("no PostgreSQL test server: VOLT_TEST_PG_URL is unset (.ci/run sets it)")
    with fresh_postgres_database(os.environ["VOLT_TEST_PG_URL"]) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def store(request, volt_home, monkeypatch):
    """The store every database test runs on: SQLite always, PostgreSQL when
    VOLT_TEST_PG_URL names a server (the engine and the paper exchange both use it)."""
    if request.param == "sqlite":
        engine = make_engine()
        yield engine, make_session_factory(engine)
        engine.dispose()
        return
    with fresh_postgres_database(os.environ["VOLT_TEST_PG_URL"]) as url:
        monkeypatch.setenv("VOLT_DB_URL", url)
        engine = make_engine()
        yield engine, make_session_factory(engine)
        engine.dispose()


@pytest.fixture
def trader_factory(store) -> Callable:
    """A real Trader on a fast-forward clock, for in-process runs."""

    def build(config_path: Path | None = None, start: datetime = START):
        settings = load_config(config_path)
        clock = FastForwardClock(start)
        return build_trader(settings, store[1], clock), clock

    return build


@pytest.fixture
def webhook():
    """A loopback webhook receiver; `webhook.url()` is its Apprise json:// URL."""
    from tests.support.webhook import WebhookReceiver

    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
