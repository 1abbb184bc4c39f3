"""Laptop guards pause entries when hot or on battery; sleep is inhibited while trading."""

import logging
import os
import stat

from sqlalchemy import select

from config import load_config
from data.store.events import EventsHandler
from data.store.models import Event
from engine.runtime.control import pid_alive
from engine.runtime.guards import LaptopGuard, PowerSource
from engine.runtime.sleep_inhibitor import SleepInhibitor
from engine.runtime.supervisor import Supervisor
from tests.support.runs import run_ticks, wait_for

ON_AC = PowerSource(True, 100.0)


class Readings:
    def __init__(self, temperature=60.0, power=ON_AC):
        self.temperature, self.power = temperature, power


def guard_with(readings: Readings, settings=None) -> LaptopGuard:
    return LaptopGuard(
        settings or load_config(), lambda: readings.temperature, lambda: readings.power
    )


def test_a_hot_cpu_pauses_entries_until_it_has_cooled_by_the_margin():
    readings = Readings()
    guard = guard_with(readings)
    assert guard.entry_blocks() == []
    readings.temperature = 87.0
    assert guard.entry_blocks() == ["CPU 87 °C: cooling below 80 °C"]
    readings.temperature = 83.0  # below the limit, but not cool enough yet
    assert guard.entry_blocks() == ["CPU 83 °C: cooling below 80 °C"]
    readings.temperature = 79.5
    assert guard.entry_blocks() == []


def test_no_temperature_sensor_never_blocks():
    assert guard_with(Readings(temperature=None)).entry_blocks() == []


def test_battery_warns_always_and_pauses_only_when_configured(tmp_path, store):
    handler = EventsHandler(store[1], "worker")
    logging.getLogger().addHandler(handler)
    try:
        readings = Readings(power=PowerSource(False, 42.0))
        assert guard_with(readings).entry_blocks() == []
        config = tmp_path / "battery.toml"
        config.write_text("[laptop]\npause_on_battery = true\n")
        assert guard_with(readings, load_config(config)).entry_blocks() == ["on battery (42%)"]
        handler.flush()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    with store[1]() as session:
        messages = session.scalars(select(Event.message).where(Event.kind == "laptop_guard"))
        messages = list(messages)
    assert any("running on battery (42%)" in m and "trading goes on" in m for m in messages)
    assert any("new entries paused" in m for m in messages)


def test_blocked_entries_are_decisions_with_the_reason(trader_factory, store, tmp_path):
    from data.store.models import Decision, Position

    busy = tmp_path / "busy.toml"  # the technical agent alone signals often
    busy.write_text("[agents.weights]\ntechnical = 1.0\nregime = 0\nsentiment = 0\n")
    trader, clock = trader_factory(busy)
    trader.entry_blocks = ["CPU 91 °C: cooling below 80 °C"]
    run_ticks(trader, clock, market_hours=12)
    with store[1]() as session:
        assert session.scalars(select(Position)).all() == []
        outcomes = set(session.scalars(select(Decision.outcome)))
    assert "entries paused: CPU 91 °C: cooling below 80 °C" in outcomes


def fake_inhibitor(directory) -> str:
    script = directory / "systemd-inhibit"
    script.write_text(f'#!/bin/sh\necho "$@" > "{directory}/args"\nexec cat\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(directory)


def test_sleep_is_inhibited_through_a_pipe_that_dies_with_its_owner(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_inhibitor(tmp_path) + os.pathsep + os.environ["PATH"])
    inhibitor = SleepInhibitor()
    text = inhibitor.hold()
    assert text == "sleep inhibited by systemd-inhibit"
    pid = inhibitor.process.pid
    args = tmp_path / "args"
    wait_for(lambda: args.exists() and args.read_text(), 10, "the inhibitor to start")
    assert "--what=sleep:idle" in args.read_text()
    assert inhibitor.hold() == text  # still held: not started twice
    inhibitor.release()
    assert inhibitor.process is None
    assert not pid_alive(pid), "the inhibitor outlived its release"


def test_without_systemd_inhibit_the_state_says_sleep_is_not_inhibited(
    tmp_path, monkeypatch, store
):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find
    supervisor = Supervisor(load_config(), store[1])
    supervisor.keep_awake(trading=True)
    from data.store.state import read_state

    assert read_state(store[1]).sleep_inhibit == (
        "sleep NOT inhibited: systemd-inhibit not found on this machine"
    )
    supervisor.keep_awake(trading=False)
    assert read_state(store[1]).sleep_inhibit == "sleep allowed: the engine is not trading"


def failing_inhibitor(directory, after: str = "0") -> str:
    """A systemd-inhibit that starts, cannot reach the session bus and exits `after` s later."""
    script = directory / "systemd-inhibit"
    script.write_text(f"#!/bin/sh\nsleep {after}\necho 'Failed to connect to bus' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(directory) + os.pathsep + os.environ["PATH"]


def test_an_inhibitor_that_fails_is_reported_and_not_respawned_in_a_storm(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", failing_inhibitor(tmp_path))
    inhibitor = SleepInhibitor()
    reports = {inhibitor.hold() for _ in range(50)}
    assert reports == {
        "sleep NOT inhibited: systemd-inhibit exited with code 1 (Failed to connect to bus); "
        "retrying every 300 s"
    }
    assert inhibitor.process is None


def test_an_inhibitor_that_dies_at_once_is_never_reported_as_holding(
    tmp_path, monkeypatch, store, caplog
):
    # Where systemd-inhibit exists but cannot inhibit it ran for a quarter of a second: the
    # state read "inhibited", then "NOT inhibited", at every retry, every five minutes.
    monkeypatch.setenv("PATH", failing_inhibitor(tmp_path, after="0.25"))
    supervisor = Supervisor(load_config(), store[1])
    caplog.set_level(logging.INFO, logger="volt.sleep")
    caplog.set_level(logging.INFO, logger="volt.supervisor")
    for _ in range(3):
        supervisor.keep_awake(trading=True)
        supervisor.inhibitor.retry_at = 0.0  # the retry is due
    said = [r.getMessage() for r in caplog.records if getattr(r, "kind", "") == "sleep_inhibit"]
    assert said == [
        "sleep NOT inhibited: systemd-inhibit exited with code 1 (Failed to connect to bus); "
        "retrying every 300 s"
    ]
