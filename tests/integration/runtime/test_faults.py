"""Transient faults are retried, outages pause entries, and no order is ever lost or doubled."""

import itertools
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.store.db import transaction
from data.store.events import EventsHandler
from data.store.models import Event, Order, Position, Trade
from engine.clock import make_clock
from engine.tools.faults import FAULTS_ENV, install_faults
from engine.trading.book import portfolio_view
from engine.trading.reconcile import reconcile
from risk import OrderIntent
from tests.support.runs import run_ticks


@pytest.fixture
def faults(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.venues.retry.FIRST_WAIT_SECONDS", 0.001)  # backoff is wall time
    path = tmp_path / "faults.json"
    monkeypatch.setenv(FAULTS_ENV, str(path))
    monkeypatch.setattr("engine.wiring.feed_wrappers", [])  # installed for this test only
    monkeypatch.setattr("engine.wiring.broker_wrappers", [])
    install_faults()  # as `python -m engine run` does when the variable is set

    versions = itertools.count(1)

    def plan(**values):
        path.write_text(json.dumps({"seed": 3, **values}))
        version = next(versions)
        os.utime(path, (version, version))  # a new mtime, so the plan is read again

    plan()
    return plan


@pytest.fixture
def events(store):
    import logging

    handler = EventsHandler(store[1], "worker")
    logging.getLogger().addHandler(handler)

    def read(kind: str) -> list[str]:
        handler.flush()
        with store[1]() as session:
            return list(session.scalars(select(Event.message).where(Event.kind == kind)))

    yield read
    logging.getLogger().removeHandler(handler)
    handler.close()


def test_occasional_feed_errors_are_retried_and_the_day_trades_on(
    faults, trader_factory, store, events, busy_config
):
    faults(feed_error_rate=0.3)
    trader, clock = trader_factory(busy_config)
    skipped = 0
    for _ in range(120):
        report = trader.tick()
        assert report.succeeded
        skipped += len(report.skipped)
        clock.advance(300)
    assert events("retry"), "no retry was needed at a 30% error rate"
    with store[1]() as session:
        assert session.scalar(select(func.count()).select_from(Order)) > 0
    assert skipped < 30  # four tries each: almost every pair gets through


def test_an_outage_pauses_entries_and_stops_still_catch_the_gap(
    faults, trader_factory, store, events, busy_config
):
    trader, clock = trader_factory(busy_config)
    for _ in range(600):  # trade until a position is open
        run_ticks(trader, clock, market_hours=0.25)
        with store[1]() as session:
            position = session.scalars(select(Position)).first()
        if position:
            break
    assert position is not None
    pair = position.pair
    with transaction(store[1]) as session:  # a stop the next candles will surely cross
        session.get(Position, pair).stop_loss = position.entry_price * 0.9999
        session.get(Position, pair).take_profit = position.entry_price * 10

    faults(feed_down_until=time.time() + 3600)
    for _ in range(4):
        clock.advance(300)
        report = trader.tick()
        assert report.succeeded and pair in report.skipped
    assert pair in trader.stale_pairs
    assert any(f"no new {pair} candle" in m and "entries paused" in m for m in events("stale_data"))

    faults(feed_down_until=0)
    clock.advance(300)
    trader.tick()
    assert pair not in trader.stale_pairs
    with store[1]() as session:
        trade = session.scalars(select(Trade).where(Trade.pair == pair)).all()[-1]
    assert trade.exit_reason == "stop_loss"
    # The stop filled on a candle inside the outage, not at the price after it.
    assert trade.exit_ts > position.entry_ts


def test_a_timeout_after_the_exchange_accepted_never_doubles_the_order(
    faults, trader_factory, store, events, busy_config
):
    faults(broker_timeout_rate=0.5)
    trader, clock = trader_factory(busy_config)
    run_ticks(trader, clock, market_hours=24)
    assert events("order_unknown"), "no injected timeout happened"
    at_exchange = [o.client_order_id for o in trader.broker.orders()]
    with store[1]() as session:
        recorded = list(session.scalars(select(Order.client_order_id)))
    assert sorted(at_exchange) == sorted(recorded)
    assert len(set(at_exchange)) == len(at_exchange)


def test_reconciliation_records_our_lost_fill_and_reports_a_foreign_order(trader_factory, store):
    trader, clock = trader_factory()
    run_ticks(trader, clock, market_hours=1)
    price = trader.current_price("ETH/USDT", clock.now())
    with store[1]() as session:
        book = portfolio_view(session, trader.broker, trader.marks)
    if "ETH/USDT" in book.positions:
        pytest.skip("the seeded market happened to hold ETH already")
    ours = trader.gate.approve(
        OrderIntent("ETH/USDT", "buy", price, "volt-ETHUSDT-9-b", "signal", atr=price / 100),
        book,
    )
    trader.broker.submit(ours, clock.now())  # accepted, then the worker died before recording
    foreign = trader.gate.approve(
        OrderIntent("SOL/USDT", "buy", 150.0, "manual-app-order", "signal", atr=1.5), book
    )
    trader.broker.submit(foreign, clock.now())

    findings = reconcile(trader)
    assert any("recorded volt-ETHUSDT-9-b" in f and "stop" in f for f in findings)
    assert any("manual-app-order" in f and "not placed by VOLT" in f for f in findings)
    assert any(f.startswith("SOL: the paper account holds") for f in findings)
    with store[1]() as session:
        adopted = session.get(Position, "ETH/USDT")
        assert adopted is not None and adopted.stop_loss < adopted.entry_price
        assert session.get(Position, "SOL/USDT") is None  # reported, never adopted
    assert not any("ETH" in f for f in reconcile(trader)), "a second pass finds nothing new"


def test_a_clock_restarted_at_real_speed_never_runs_backwards():
    ahead = datetime.now(UTC) + timedelta(days=3)
    clock = make_clock(1.0, resume_from=ahead)
    assert clock.now() >= ahead
    assert make_clock(1.0, resume_from=datetime.now(UTC) - timedelta(days=1)).speed == 1.0
