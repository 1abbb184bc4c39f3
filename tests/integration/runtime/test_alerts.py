"""Alerts from the real supervisor and worker processes to a loopback webhook: a kill, a halt
and a stop-loss each arrive within 10 s; a kind switched off never does; a failing notifier
is a warning event while trading goes on."""

import os
import signal

import pytest
from sqlalchemy import select

from data.store.db import transaction
from data.store.models import Event, Position, Trade
from tests.conftest import FAST_CONFIG
from tests.support.kill import open_positions_now
from tests.support.runs import wait_for
from tests.support.supervised import RunningSupervisor
from tests.support.webhook import WebhookReceiver


@pytest.fixture
def alerting(volt_home, tmp_path, store):
    """Start a supervisor on the FAST config (or `base`) with these [alerts] lines; stopped at
    the end."""
    started = []

    def start(alerts: str, base: str = FAST_CONFIG) -> RunningSupervisor:
        config = tmp_path / "alerting.toml"
        config.write_text(f"{base}\n[alerts]\n{alerts}\n")
        supervisor = RunningSupervisor(volt_home, config, store[1])
        supervisor.config = config
        started.append(supervisor)
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop()


def test_a_kill_reaches_the_webhook_with_its_result_and_the_halt(alerting, webhook):
    supervisor = alerting(f'urls = ["{webhook.url()}"]')
    supervisor.wait_for_ticking_worker()
    killed = supervisor.command("kill")
    assert killed.status == "done", killed.result
    result = webhook.wait_for_title("VOLT kill switch: pressed: everything closed", timeout=10)
    assert "engine halted until re-armed" in result["message"]
    halted = webhook.wait_for_title("VOLT halted: kill switch (command #", timeout=10)
    assert halted["type"] == "failure"


def test_no_kill_or_halt_alert_when_those_kinds_are_off(alerting, webhook):
    supervisor = alerting(f'urls = ["{webhook.url()}"]\nkill_switch = false\nhalted = false')
    first = supervisor.wait_for_ticking_worker()
    os.kill(first, signal.SIGKILL)  # an alert still on: proof the alerts run
    webhook.wait_for_title("VOLT worker restarted", timeout=10)
    supervisor.wait_for_ticking_worker(other_than=first)
    assert supervisor.command("kill").status == "done"
    # Stopping makes a last pass and sends what is queued: anything due has gone by now.
    assert supervisor.stop() == 0
    sent = webhook.titles()
    assert not [t for t in sent if t.startswith(("VOLT kill switch", "VOLT halted"))], sent


def test_a_crash_loop_halt_reaches_the_webhook_with_why(alerting, webhook, monkeypatch):
    # Every worker dies at start: its paper account lives in a directory that cannot exist.
    monkeypatch.setenv("VOLT_PAPER_DB_URL", "sqlite:////nonexistent/volt/paper.db")
    supervisor = alerting(
        f'urls = ["{webhook.url()}"]',
        "[engine]\ncrash_loop_restarts = 1\nrestart_backoff_seconds = 0.1\n"
        "restart_backoff_max_seconds = 0.2",
    )
    wait_for(lambda: supervisor.state().halted, 60, "the crash loop to halt the engine")
    halted = webhook.wait_for_title("VOLT halted: crash loop: 1 restart within", timeout=10)
    assert "exited with code 1" in halted["message"]
    crash = webhook.wait_for_title("VOLT crash loop", timeout=10)
    assert "unable to open database file" in crash["message"]  # the last error itself


def test_a_stop_loss_exit_of_the_worker_reaches_the_webhook(alerting, webhook, store):
    factory = store[1]
    supervisor = alerting(f'urls = ["{webhook.url()}"]')
    supervisor.wait_for_ticking_worker()
    assert supervisor.command("stop").status == "done"
    with factory() as session:
        held = set(session.scalars(select(Position.pair)))
    if "BTC/USDT" not in held:
        open_positions_now(factory, supervisor.config, ["BTC/USDT"])
    with transaction(factory) as session:  # a stop above the price: the next candle is through it
        position = session.get(Position, "BTC/USDT")
        position.stop_loss = position.entry_price * 1.5
    assert supervisor.command("start").status == "done"

    def stopped_out():
        with factory() as session:
            return session.scalars(
                select(Trade).where(Trade.pair == "BTC/USDT", Trade.exit_reason == "stop_loss")
            ).first()

    wait_for(stopped_out, 60, "the worker's stop-loss exit")
    message = webhook.wait_for_title("VOLT stop-loss: BTC/USDT", timeout=10)
    assert "BTC/USDT exited at its stop-loss" in message["message"]


def test_a_failing_notifier_is_a_warning_event_and_trading_goes_on(alerting, store):
    receiver = WebhookReceiver(status=500)
    try:
        supervisor = alerting(f'urls = ["{receiver.url("hook-s3cr3t")}"]')
        first = supervisor.wait_for_ticking_worker()
        os.kill(first, signal.SIGKILL)

        def failure_event():
            with store[1]() as session:
                return session.scalars(
                    select(Event).where(Event.source == "alerts", Event.kind == "alert_failed")
                ).first()

        event = wait_for(failure_event, 20, "the failed alert's warning event")
        assert event.level == "WARNING"
        assert f"127.0.0.1:{receiver.port}/***" in event.message and "s3cr3t" not in event.message
        assert receiver.requests >= 1
        supervisor.wait_for_ticking_worker(other_than=first)  # trading goes on
        assert supervisor.process.poll() is None
    finally:
        receiver.close()
