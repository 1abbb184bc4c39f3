"""Running VOLT in tests: where it lives, its clock's start, processes and polling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

START = datetime(2026, 3, 1, tzinfo=UTC)


def sqlite_only(store) -> None:
    if store[0].dialect.name != "sqlite":
        pytest.skip("a SQLite-specific behaviour")


def run_ticks(trader, clock, market_hours: float, tick_seconds: float = 300.0) -> None:
    for _ in range(int(market_hours * 3600 / tick_seconds)):
        trader.tick()
        clock.advance(tick_seconds)


def volt_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra)
    return env


def run_engine(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=ROOT,
        env=volt_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_engine(*args: str, new_session: bool = False, **env: str) -> subprocess.Popen:
    """`run_engine` left running, its output piped; `new_session`: its own process group, as a
    terminal gives a command (a signal to the group reaches every process it starts)."""
    return subprocess.Popen(
        [sys.executable, "-m", "engine", *args],
        cwd=ROOT,
        env=volt_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
