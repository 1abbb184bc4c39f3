"""The kill switch fails closed even when its own steps fail: a halt that cannot be written,
a reconcile that errors, a supervisor that dies mid-kill, positions left open after it."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from config import load_config
from data.store.commands import (
    claim_next_command,
    fail_interrupted,
    finish_command,
    get_command,
    submit_command,
)
from data.store.models import Command, Decision, Event, Position, Trade
from data.store.state import read_state
from data.types import PortfolioView
from engine.runtime.supervisor import Supervisor
from engine.trading.risk_records import risk_context
from engine.venues.errors import TemporaryError
from engine.wiring import build_gate
from risk import OrderIntent, RiskRejection
from tests.support.kill import open_positions_count, press_kill
from tests.support.runs import START


def entry_refused(factory) -> RiskRejection | None:
    """Does the engine's risk gate refuse a fresh entry now? (None: it would open it.)"""
    book = PortfolioView(10_000.0, 10_000.0, {})
    with factory() as session:
        context = risk_context(session, book, {}, START)
    intent = OrderIntent("SOL/USDT", "buy", 100.0, "x", "signal", atr=1.0)
    try:
        build_gate(load_config()).approve(intent, book, context)
    except RiskRejection as rejection:
        return rejection
    return None


def set_status(factory, command_id: int, status: str, result: str = "") -> None:
    with factory() as session, session.begin():
        command = session.get(Command, command_id)
        command.status, command.result = status, result


@pytest.mark.parametrize("status", ["pending", "claimed", "failed", "interrupted", "done"])
def test_entries_stay_blocked_while_the_last_kill_has_no_later_rearm(store, status):
    factory = store[1]
    assert entry_refused(factory) is None
    kill = submit_command(factory, "kill")
    if status == "interrupted":
        claim_next_command(factory, frozenset({"kill"}), "supervisor")
        fail_interrupted(factory, "supervisor")
    elif status != "pending":
        set_status(factory, kill, status, "whatever happened")
    assert not read_state(factory).halted  # the halt was never written
    refused = entry_refused(factory)
    assert refused is not None and refused.blocks[0].protection == "kill_switch"

    refused_rearm = submit_command(factory, "rearm")
    finish_command(factory, refused_rearm, False, "refused")
    assert entry_refused(factory) is not None, "a refused re-arm clears nothing"
    rearmed = submit_command(factory, "rearm")
    finish_command(factory, rearmed, True, "re-armed: trading resumes")
    assert entry_refused(factory) is None
    submit_command(factory, "kill")  # a later kill counts again
    assert entry_refused(factory) is not None


def test_rearm_is_refused_while_a_failed_kill_is_in_force_even_if_not_halted(store):
    factory = store[1]
    kill = submit_command(factory, "kill")
    finish_command(factory, kill, False, "OperationalError: database is locked")
    ok, message = Supervisor(load_config(), factory).rearm(kill + 1)
    assert not ok and "did not close everything" in message


def test_a_kill_whose_halt_write_fails_stops_the_worker_and_retries_until_halted(
    kill_setup, monkeypatch, caplog
):
    import engine.runtime.kill_switch as kill_switch

    supervisor, factory, _ = kill_setup
    monkeypatch.setattr(kill_switch, "HALT_RETRY_SECONDS", 0.01)
    real_update = kill_switch.update_state
    attempts = []

    def update_state_locked_twice(factory, **values):
        if values.get("halted"):
            attempts.append(supervisor.worker)
            if len(attempts) <= 2:
                raise OperationalError("UPDATE engine_state", {}, Exception("database is locked"))
        return real_update(factory, **values)

    monkeypatch.setattr(kill_switch, "update_state", update_state_locked_twice)
    with caplog.at_level(logging.ERROR, logger="volt.supervisor"):
        killed = press_kill(supervisor, factory)
    assert killed.status == "done", killed.result
    assert len(attempts) == 3
    assert attempts[0] is not None and attempts[1:] == [None, None]  # stopped before retrying
    state = read_state(factory)
    assert state.halted and state.desired == "stopped"
    assert open_positions_count(factory) == 0
    failures = [r for r in caplog.records if "could not write the halt" in r.getMessage()]
    retries = [r for r in caplog.records if "writing the halt failed" in r.getMessage()]
    assert len(failures) == 1 and len(retries) == 1
    assert all(r.exc_info for r in failures + retries)  # with the traceback, so an event


@pytest.mark.parametrize("left_as", ["claimed", "interrupted"])
def test_a_kill_a_dead_supervisor_left_unfinished_halts_and_runs_again(kill_setup, left_as):
    _, factory, _ = kill_setup
    kill = submit_command(factory, "kill")
    claim_next_command(factory, frozenset({"kill"}), "supervisor")  # then it died
    if left_as == "interrupted":
        fail_interrupted(factory, "supervisor")  # as an older supervisor did at start
    assert not read_state(factory).halted

    restarted = Supervisor(load_config(), factory)
    restarted.kill_switch.resume()
    assert read_state(factory).halted
    assert get_command(factory, kill).status == "pending"
    restarted.handle_commands()
    done = get_command(factory, kill)
    assert done.status == "done", done.result
    assert open_positions_count(factory) == 0 and read_state(factory).halted


def test_a_failing_reconcile_does_not_stop_the_kill_from_closing(kill_setup, monkeypatch, caplog):
    import engine.runtime.supervisor_account as account_module

    supervisor, factory, _ = kill_setup
    real_build = account_module.build_account

    def build(settings, factory, clock):
        account = real_build(settings, factory, clock)

        def open_orders():
            raise TemporaryError("open orders endpoint timed out (test)")

        account.broker.open_orders = open_orders
        return account

    monkeypatch.setattr(account_module, "build_account", build)
    with caplog.at_level(logging.ERROR, logger="volt.supervisor"):
        killed = press_kill(supervisor, factory)
    assert killed.status == "done", killed.result
    assert killed.result.count("closed ") == 2
    assert open_positions_count(factory) == 0
    logged = [r for r in caplog.records if "reconciliation before the flatten" in r.getMessage()]
    assert logged and all(r.exc_info for r in logged)


def test_a_failed_flatten_names_every_pair_still_open(kill_setup, monkeypatch):
    import engine.trading.manual as manual

    supervisor, factory, _ = kill_setup

    def flatten(account, reason, tag):
        raise TemporaryError("exchange unreachable (test)")

    monkeypatch.setattr(manual, "flatten", flatten)
    killed = press_kill(supervisor, factory)
    assert killed.status == "failed"
    assert "BTC/USDT: still open" in killed.result and "ETH/USDT: still open" in killed.result


def test_a_halted_engine_keeps_retrying_the_flatten_with_backoff(kill_setup):
    supervisor, factory, flaky = kill_setup
    flaky["pair"] = "BTC/USDT"  # refused for longer than the kill's own attempts
    first = press_kill(supervisor, factory)
    assert first.status == "failed" and open_positions_count(factory) == 1
    retry = supervisor.kill_switch.retry
    assert retry is not None and retry.delay == 5.0

    kill_broker = flaky["broker"]
    supervisor.step()  # not due yet: nothing sent
    assert flaky["broker"] is kill_broker and kill_broker.refused == ["BTC/USDT"] * 3
    for expected_delay in (10.0, 20.0):
        retry.at = 0.0  # due now
        supervisor.step()
        assert retry.delay == expected_delay
        assert flaky["broker"] is not kill_broker and flaky["broker"].refused == ["BTC/USDT"]
    with factory() as session:
        errors = session.scalars(select(Event).where(Event.kind == "kill_switch")).all()
    assert len(errors) == 2 and all("BTC/USDT" in e.message for e in errors)
    assert all(e.level == "ERROR" for e in errors)
    assert supervisor.worker is None and read_state(factory).halted

    flaky["pair"] = None  # the exchange takes orders again
    retry.at = 0.0
    supervisor.step()
    assert open_positions_count(factory) == 0
    completed = get_command(factory, first.id)
    assert completed.status == "done" and "retry closed: closed BTC/USDT" in completed.result
    assert supervisor.kill_switch.retry is None and read_state(factory).halted
    ok, message = supervisor.rearm(0)
    assert ok, message


def test_a_manual_close_runs_in_the_supervisor_when_no_worker_does(kill_setup, monkeypatch):
    from risk.gate import RiskGate

    supervisor, factory, flaky = kill_setup
    flaky["pair"] = "BTC/USDT"
    first = press_kill(supervisor, factory)
    assert first.status == "failed" and open_positions_count(factory) == 1
    supervisor.kill_switch.retry = None  # only the manual close acts in this test
    flaky["pair"] = None
    approved = []
    real_approve = RiskGate.approve

    def approve(self, intent, book, context=None):
        approved.append((intent.pair, intent.side, intent.reason))
        return real_approve(self, intent, book, context)

    monkeypatch.setattr(RiskGate, "approve", approve)
    close = submit_command(factory, "close_position", {"pair": "BTC/USDT"})
    supervisor.step()
    assert supervisor.worker is None
    done = get_command(factory, close)
    assert done.status == "done", done.result
    assert "closed BTC/USDT" in done.result
    assert approved == [("BTC/USDT", "sell", "manual")]  # through the risk gate
    with factory() as session:
        assert session.scalars(select(Trade.exit_reason).order_by(Trade.id)).all()[-1] == "manual"
    unknown = submit_command(factory, "close_position", {"pair": "DOGE/USDT"})
    supervisor.step()
    assert get_command(factory, unknown).status == "failed"


def test_the_kill_press_is_recorded_while_the_worker_waits_on_the_exchange(tmp_path, monkeypatch):
    import threading

    import data.store.db as db
    from tests.support.scripted import scripted_trader

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 1000)
    closes = {"BTC/USDT": [100.0 + 0.01 * i for i in range(40)]}
    trader, clock = scripted_trader(tmp_path, closes, {"BTC/USDT": [0] * 18 + [1] * 20})
    for _ in range(18):
        trader.tick()
        clock.advance(300)
    entered, release = threading.Event(), threading.Event()
    real_submit = trader.broker.submit

    def slow_submit(order, now):  # an exchange call that takes its time
        entered.set()
        release.wait(30)
        return real_submit(order, now)

    trader.broker.submit = slow_submit
    worker = threading.Thread(target=trader.tick)
    worker.start()
    try:
        assert entered.wait(30), "the entry never reached the broker"
        assert submit_command(trader.factory, "kill") > 0  # the dashboard's press
    finally:
        release.set()
        worker.join()
    # The order sent before the press is booked once it fills: the kill then flattens it.
    with trader.factory() as session:
        assert session.get(Position, "BTC/USDT") is not None
        (entry,) = session.scalars(select(Decision).where(Decision.executed)).all()
        assert entry.outcome.startswith("bought")
