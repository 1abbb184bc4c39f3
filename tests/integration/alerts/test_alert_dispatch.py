"""The alert dispatcher against the real store and a loopback webhook: what is switched on
arrives, what is off never does, and a failing notifier is a warning event, never an error."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from config import Settings
from data.store.db import transaction
from data.store.models import Event, Position, ProtectionLock, Trade
from data.store.state import update_state
from engine.alerts.dispatcher import AlertDispatcher
from tests.support.runs import free_port, run_ticks, wait_for
from tests.support.webhook import WebhookReceiver


def dispatcher_for(factory, urls, **switches) -> AlertDispatcher:
    settings = Settings.model_validate({"alerts": {"urls": urls, **switches}})
    return AlertDispatcher(settings, factory)


def drain(dispatcher: AlertDispatcher) -> None:
    """One pass, then wait until the sender has sent everything it was given."""
    dispatcher.poll_once()
    assert dispatcher.sender.close(15)


def alert_events(factory) -> list[Event]:
    with factory() as session:
        return list(session.scalars(select(Event).where(Event.source == "alerts")))


def stop_out_a_position(trader, clock, factory) -> Trade:
    """Trade until a position is open, put its stop where the next candles cross it."""
    for _ in range(600):
        run_ticks(trader, clock, market_hours=0.25)
        with factory() as session:
            position = session.scalars(select(Position)).first()
        if position:
            break
    assert position is not None, "no entry in 150 market hours"
    with transaction(factory) as session:
        session.get(Position, position.pair).stop_loss = position.entry_price * 0.9999
        session.get(Position, position.pair).take_profit = position.entry_price * 10

    def stopped():
        clock.advance(300)
        trader.tick()
        with factory() as session:
            return session.scalars(select(Trade).where(Trade.exit_reason == "stop_loss")).first()

    return wait_for(stopped, 60, "the stop-loss exit", every=0)


def test_a_stop_loss_exit_reaches_the_webhook(store, webhook, trader_factory, busy_config):
    factory = store[1]
    trader, clock = trader_factory(busy_config)
    dispatcher = dispatcher_for(factory, [webhook.url()])
    dispatcher.start()
    try:
        trade = stop_out_a_position(trader, clock, factory)
        message = webhook.wait_for_title(f"VOLT stop-loss: {trade.pair}", timeout=10)
    finally:
        dispatcher.stop()
    assert f"{trade.pair} exited at its stop-loss" in message["message"]
    assert message["type"] == "warning"


def test_no_stop_loss_alert_when_that_kind_is_off(store, webhook, trader_factory, busy_config):
    factory = store[1]
    trader, clock = trader_factory(busy_config)
    dispatcher = dispatcher_for(factory, [webhook.url()], stop_loss=False)
    dispatcher.prime()
    dispatcher.sender.start()
    trade = stop_out_a_position(trader, clock, factory)
    drain(dispatcher)
    assert dispatcher.cursors["trades"] >= trade.id  # the exit was read, and not sent
    assert not [t for t in webhook.titles() if t.startswith("VOLT stop-loss")]


def test_a_halt_is_sent_with_its_reason_and_history_is_not(store, webhook):
    factory = store[1]
    update_state(factory, halted=True, halt_reason="an old halt")
    dispatcher = dispatcher_for(factory, [webhook.url()])
    dispatcher.prime()
    dispatcher.sender.start()
    update_state(factory, halted=False, halt_reason="")
    dispatcher.poll_once()
    update_state(factory, halted=True, halt_reason="crash loop: 6 restarts (test)")
    drain(dispatcher)
    assert webhook.titles() == ["VOLT halted: crash loop: 6 restarts (test)"]


def test_a_failed_read_of_one_table_does_not_cost_the_halt_alert(store, webhook, monkeypatch):
    factory = store[1]
    dispatcher = dispatcher_for(factory, [webhook.url()])
    dispatcher.prime()
    dispatcher.sender.start()
    update_state(factory, halted=True, halt_reason="kill switch (command #3)")
    failing = dispatcher._stop_losses

    def locked_once():
        monkeypatch.setattr(dispatcher, "_stop_losses", failing)
        raise OperationalError("SELECT trades", {}, Exception("database is locked"))

    monkeypatch.setattr(dispatcher, "_stop_losses", locked_once)
    dispatcher.poll_once()  # the trades read fails in this pass
    drain(dispatcher)
    assert webhook.titles() == ["VOLT halted: kill switch (command #3)"]


def test_a_protection_tripping_is_sent_and_the_kill_switch_lock_is_not(store, webhook):
    factory = store[1]
    dispatcher = dispatcher_for(factory, [webhook.url()])
    dispatcher.prime()
    dispatcher.sender.start()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with transaction(factory) as session:
        for name in ("kill_switch", "daily_loss_limit"):
            session.add(ProtectionLock(protection=name, reason="r", clears="c", ts=now))
    drain(dispatcher)
    assert webhook.titles() == ["VOLT protection: daily_loss_limit blocks new entries"]


def test_a_row_committed_after_a_higher_id_is_sent_once(store, webhook):
    """On PostgreSQL a transaction that took its id first can commit last."""
    factory = store[1]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with transaction(factory) as session:
        session.add(ProtectionLock(protection="low_profit", reason="r", clears="c", ts=now))
    dispatcher = dispatcher_for(factory, [webhook.url()])
    dispatcher.prime()
    dispatcher.sender.start()
    first = dispatcher.cursors["locks"]
    with transaction(factory) as session:
        session.add(
            ProtectionLock(id=first + 5, protection="max_drawdown", reason="r", clears="c", ts=now)
        )
    dispatcher.poll_once()
    with transaction(factory) as session:  # the late one, with an id below the cursor
        session.add(
            ProtectionLock(
                id=first + 2, protection="daily_loss_limit", reason="r", clears="c", ts=now
            )
        )
    dispatcher.poll_once()
    drain(dispatcher)
    assert webhook.titles() == [
        "VOLT protection: max_drawdown blocks new entries",
        "VOLT protection: daily_loss_limit blocks new entries",
    ]


def test_the_daily_summary_goes_out_at_its_hour_on_the_market_clock(store, webhook):
    factory = store[1]
    # A stopped engine's simulated clock: it stands where its worker's last tick left it.
    heartbeat = datetime(2026, 1, 1, tzinfo=UTC)
    update_state(factory, market_time=datetime(2026, 3, 1, 9, tzinfo=UTC), heartbeat_at=heartbeat)
    dispatcher = dispatcher_for(factory, [webhook.url()], daily_summary_hour=20)
    dispatcher.prime()
    dispatcher.sender.start()
    update_state(factory, market_time=datetime(2026, 3, 1, 19, 55, tzinfo=UTC))
    dispatcher.poll_once()
    update_state(factory, market_time=datetime(2026, 3, 1, 20, 5, tzinfo=UTC))
    dispatcher.poll_once()
    update_state(factory, market_time=datetime(2026, 3, 1, 22, tzinfo=UTC))
    drain(dispatcher)
    (summary,) = webhook.bodies
    assert summary["title"].startswith("VOLT daily summary: 2026-03-01")
    assert "Open positions: 0 (none)" in summary["message"]


@pytest.mark.parametrize("failure", ["http_500", "refused_connection"])
def test_a_failing_notifier_is_a_masked_warning_event(store, failure):
    factory = store[1]
    receiver = WebhookReceiver(status=500)
    port = receiver.port if failure == "http_500" else free_port()
    url = f"json://127.0.0.1:{port}/hook-s3cr3t?token=t0k3n-s3cr3t"
    dispatcher = dispatcher_for(factory, [url])
    dispatcher.prime()
    dispatcher.sender.start()
    try:
        update_state(factory, halted=True, halt_reason="test")
        drain(dispatcher)  # returns: the failure never reaches the caller
    finally:
        receiver.close()
    (event,) = alert_events(factory)
    assert event.level == "WARNING" and event.kind == "alert_failed"
    assert f"alert halted to json://127.0.0.1:{port}/***?token=*** was not delivered" in (
        event.message
    )
    assert "s3cr3t" not in event.message + event.traceback
    assert receiver.requests == (1 if failure == "http_500" else 0)


def test_a_url_apprise_does_not_know_is_a_warning_and_the_others_still_get_alerts(store, webhook):
    factory = store[1]
    dispatcher = dispatcher_for(factory, ["nosuchservice://tok3n-s3cr3t/x", webhook.url()])
    dispatcher.prime()
    dispatcher.sender.start()
    update_state(factory, halted=True, halt_reason="test")
    drain(dispatcher)
    assert webhook.titles() == ["VOLT halted: test"]
    (event,) = alert_events(factory)
    assert "nosuchservice://***/*** is not a URL Apprise understands" in event.message


def test_a_refused_key_event_is_sent_once_per_event(store, webhook):
    from data.store.events import record_event

    factory = store[1]
    dispatcher = dispatcher_for(factory, [webhook.url()])
    dispatcher.prime()
    dispatcher.sender.start()
    message = "fetch balance: binance refused the API key: check VOLT_API_KEY (code -2015)"
    record_event(factory, "ERROR", "worker", "key_refused", message)
    drain(dispatcher)
    (body,) = webhook.bodies
    assert body["title"] == "VOLT API key refused: orders and balances are refused"
    assert body["message"] == message
