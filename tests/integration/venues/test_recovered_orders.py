"""A worker killed after its order reached the loopback Binance and before its fill was
booked: the restarted worker's reconciliation books the fill with the decision it was sent
for and the reason it was sent (a stop-loss sale stays a stop-loss sale, not "recovered"),
and the decision no longer says its order is on its way."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from data.store.db import transaction
from data.store.models import Decision, JournalEntry, Order, Position, Trade
from data.store.pending_orders import PendingOrder
from data.types import Action
from engine.clock import FastForwardClock
from engine.trading import execution
from engine.trading.approve import approve_exit
from engine.trading.execution import ORDER_SENT, send_exit
from engine.trading.reconcile import reconcile
from engine.venues.binance.client_ids import client_order_id
from engine.wiring import build_trader
from risk import OrderIntent
from tests.support.binance import connect, decide

PAIR = "BTC/USDT"


class Killed(BaseException):
    """The worker dies: nothing after the send runs, not even its own clean-up."""


def kill_before_booking(monkeypatch, trader) -> None:
    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(execution, "book_exit", killed)
    monkeypatch.setattr(execution, "record_fill", killed)
    monkeypatch.setattr(trader.execution, "withdraw", killed)  # a kill takes nothing back


def restarted(settings, fake, store, clock):
    return build_trader(settings, store[1], clock, connect(settings, fake))


def only(session, model):
    return session.scalars(select(model)).one()


@pytest.fixture
def clock():
    return FastForwardClock(datetime.now(UTC))


@pytest.fixture
def holding(trader, clock):
    """The trader holds BTC, bought on a decision and booked."""
    assert decide(trader, Action.BUY, clock.now()).startswith("bought")
    return trader


def test_a_stop_loss_sale_killed_before_booking_is_booked_as_a_stop_loss(
    holding, settings, fake, store, clock, monkeypatch
):
    with transaction(holding.factory) as session:
        cid = client_order_id(PAIR, clock.now(), "st")
        stop = OrderIntent(PAIR, "sell", 59_000.0, cid, "stop_loss")
        approved = approve_exit(holding.account, session, stop)
    kill_before_booking(monkeypatch, holding)
    with pytest.raises(Killed):
        send_exit(holding.account, approved, clock.now())
    assert len(fake.calls("POST", "/api/v3/order")) == 2  # the buy, then the sale

    findings = reconcile(restarted(settings, fake, store, clock))
    assert any(f"recorded {cid}" in f and "(stop_loss)" in f for f in findings), findings
    with store[1]() as session:
        assert only(session, Trade).exit_reason == "stop_loss"
        assert session.get(Position, PAIR) is None
        assert session.scalars(select(PendingOrder)).all() == []


def test_a_decided_sale_killed_before_booking_keeps_its_decision_and_resolves_it(
    holding, settings, fake, store, clock, monkeypatch
):
    later = clock.now().replace(microsecond=0)
    kill_before_booking(monkeypatch, holding)
    with pytest.raises(Killed):
        decide(holding, Action.SELL, later)
    with store[1]() as session:
        sell = session.scalars(select(Decision).where(Decision.action == "SELL")).one()
        assert sell.outcome == ORDER_SENT  # what the kill left

    reconcile(restarted(settings, fake, store, clock))
    with store[1]() as session:
        sell = session.get(Decision, sell.id)
        assert sell.executed and sell.outcome != ORDER_SENT
        assert "booked after a restart" in sell.outcome
        assert only(session, Trade).exit_reason == "signal"
        sale = session.scalars(select(Order).where(Order.side == "sell")).one()
        assert sale.decision_id == sell.id and sale.reason == "signal"
        journaled = session.scalars(select(JournalEntry.decision_id)).all()
        assert sell.id in journaled


def test_a_decided_buy_killed_before_booking_keeps_its_decision_and_approved_stops(
    trader, settings, fake, store, clock, monkeypatch
):
    kill_before_booking(monkeypatch, trader)
    with pytest.raises(Killed):
        decide(trader, Action.BUY, clock.now())
    with store[1]() as session:
        sent = only(session, PendingOrder)

    findings = reconcile(restarted(settings, fake, store, clock))
    assert any("signal, decision #" in f for f in findings), findings
    with store[1]() as session:
        buy = only(session, Decision)
        assert buy.executed and buy.outcome.startswith("bought")
        position = session.get(Position, PAIR)
        assert (position.stop_loss, position.take_profit) == (sent.stop_loss, sent.take_profit)
        assert only(session, Order).decision_id == buy.id
        assert only(session, JournalEntry).decision_id == buy.id
