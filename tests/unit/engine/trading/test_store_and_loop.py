"""The store keeps every decision whole, and a restarted trader never acts on a candle twice."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from data.store.commands import submit_command
from data.store.db import transaction
from data.store.events import EventsHandler
from data.store.models import Decision, Event, Fill, Order, Position, Trade, VoteRow
from data.store.state import read_state
from engine.trading.book import portfolio_view
from engine.trading.execution import record_fill
from risk import OrderIntent
from tests.support.runs import run_ticks, sqlite_only


def counts(factory) -> dict[str, int]:
    with factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Decision, VoteRow, Order, Fill, Position, Trade)
        }


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(store):
    sqlite_only(store)
    with store[0].connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_a_failed_decision_leaves_no_partial_rows(trader_factory, store, monkeypatch, busy_config):
    trader, clock = trader_factory(busy_config)

    def record_then_fail(session, fill, reason, decision_id):
        record_fill(session, fill, reason, decision_id)
        raise RuntimeError("disk full (test)")

    monkeypatch.setattr("engine.trading.execution.record_fill", record_then_fail)
    for _ in range(400):
        before = counts(store[1])
        report = trader.tick()
        if report.unexpected:
            # The decision, its votes and its order rows were rolled back together.
            after = counts(store[1])
            assert after["orders"] == before["orders"] == 0
            assert after["decisions"] - before["decisions"] == after["votes"] - before["votes"]
            return
        clock.advance(300)
    raise AssertionError("no entry signal in the simulated hours")


def test_restarted_trader_never_decides_the_same_candle_twice(trader_factory, store):
    trader, clock = trader_factory()
    run_ticks(trader, clock, market_hours=6)
    last_tick = clock.now() - timedelta(seconds=300)
    before = counts(store[1])
    again, _ = trader_factory(start=last_tick)
    again.tick()
    again.tick()
    assert counts(store[1]) == before


def test_a_stores_orders_carry_its_generation_across_restarts(trader_factory, store, busy_config):
    trader, clock = trader_factory(busy_config)
    generation = read_state(store[1]).order_generation
    run_ticks(trader, clock, market_hours=6)
    again, _ = trader_factory(busy_config, start=clock.now())

    assert generation and again.account.generation == trader.account.generation == generation
    sent = [fill.client_order_id for fill in trader.broker.orders()]
    assert sent and all(f"-{generation}" in cid for cid in sent)


def test_the_same_client_order_id_never_fills_twice(trader_factory, store):
    trader, clock = trader_factory()
    intent = OrderIntent("BTC/USDT", "buy", 60_000.0, "volt-BTCUSDT-1-b", "signal", atr=300.0)
    with store[1]() as session:
        approved = trader.gate.approve(intent, portfolio_view(session, trader.broker, {}))
    first = trader.broker.submit(approved, clock.now())
    cash_after_first = trader.broker.cash()
    retry = trader.broker.submit(approved, clock.now())
    assert retry.duplicate and not first.duplicate
    assert (retry.amount, retry.price, retry.fee) == (first.amount, first.price, first.fee)
    assert trader.broker.cash() == cash_after_first
    assert [o.client_order_id for o in trader.broker.orders()] == ["volt-BTCUSDT-1-b"]
    with transaction(store[1]) as session:
        record_fill(session, first, "signal", None)
        record_fill(session, retry, "signal", None)
    with store[1]() as session:
        assert session.scalar(select(func.count(Order.id))) == 1
        assert session.scalar(select(func.count(Fill.id))) == 1


def test_stops_close_at_or_beyond_the_stop_price(trader_factory, store, busy_config):
    trader, clock = trader_factory(busy_config)
    run_ticks(trader, clock, market_hours=24)
    with store[1]() as session:
        stopped = session.scalars(select(Trade).where(Trade.exit_reason == "stop_loss")).all()
        fills = {f.order_id: f for f in session.scalars(select(Fill)).all()}
        orders = {o.id: o for o in session.scalars(select(Order)).all()}
    assert stopped, "no stop-loss exit in a simulated day"
    for trade in stopped:
        order = orders[trade.exit_order_id]
        assert fills[order.id].price <= order.price  # slippage only ever hurts
        assert trade.exit_price < trade.entry_price
        assert trade.pnl < 0


def test_logged_errors_reach_events_with_their_traceback(store):
    logger = logging.getLogger("volt.test_events")
    handler = EventsHandler(store[1], "worker")
    logger.addHandler(handler)
    try:
        try:
            {}["missing"]
        except KeyError:
            logger.exception("tick failed")
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    with store[1]() as session:
        event = session.scalars(select(Event)).one()
    assert event.level == "ERROR" and event.source == "worker"
    assert event.message == "tick failed"
    assert "KeyError: 'missing'" in event.traceback


def test_unknown_command_kind_is_refused(store):
    with pytest.raises(ValueError, match="unknown command 'explode'"):
        submit_command(store[1], "explode")
