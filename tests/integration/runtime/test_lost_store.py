"""A paper account whose store is lost or restored from an older copy: `volt.db` deleted (on
PostgreSQL, VOLT's tables dropped) or replaced while the paper exchange's own record is kept.
The restarted engine replays candles the account already traded on; its book is rebuilt from
the account, its orders go under ids of a new generation, and no fill the exchange already
holds is booked again as a new entry."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config import load_config
from data.store import events
from data.store.db import make_engine, make_session_factory, transaction
from data.store.events import EventsHandler
from data.store.models import Base, Event, Order, Position, Trade
from data.store.pending_orders import PendingOrder
from data.store.state import read_state, update_state
from engine.clock import FastForwardClock
from engine.runtime.worker import Worker
from engine.trading import reconcile as reconciliation
from engine.trading.book import open_positions
from engine.trading.reconcile import holdings_mismatches, reconcile
from engine.wiring import build_clock, build_trader
from tests.support.runs import START, run_ticks, sqlite_only

HOURS = 12  # market hours each run: round trips closed, and positions open at its end
# The technical agent alone, no pause after losses: it trades all day.
BUSY = """
[agents.weights]
technical = 1.0
regime = 0.0
sentiment = 0.0
[risk.protections]
losing_streak = 100
max_trades_per_hour = 1000
stop_out_cooldown_minutes = 0
"""


@pytest.fixture
def busy(tmp_path):
    path = tmp_path / "busy.toml"
    path.write_text(BUSY)
    return path


@pytest.fixture
def lose_store(store, volt_home):
    """Loses the engine's store and returns a new, empty one's session factory."""
    made = []

    def lose():
        engine = store[0]
        if engine.dialect.name == "sqlite":
            engine.dispose()
            (volt_home / "volt.db").unlink()
        else:
            Base.metadata.drop_all(engine)  # the paper exchange's own tables are kept
            engine.dispose()
        made.append(make_engine())
        return make_session_factory(made[-1])

    yield lose
    for engine in made:
        engine.dispose()


def run_paper(factory, config, market_hours=HOURS, start=START, generation=None, clock=None):
    """A worker's run: reconciliation first, then its ticks from `start` (or on `clock`).
    `generation`: the store's order generation from then on ("" as in a store from before
    generations), whatever reconciliation chose."""
    clock = clock or FastForwardClock(start)
    trader = build_trader(load_config(config), factory, clock)
    findings = reconcile(trader)
    if generation is not None:
        update_state(factory, order_generation=generation)
        trader.account.generation = generation
    run_ticks(trader, clock, market_hours)
    return trader, findings


def booked_entries(factory) -> list[int]:
    """The entry order of every round trip and open position: one booked twice shows twice."""
    with factory() as session:
        entries = [*session.scalars(select(Trade.entry_order_id))]
        return entries + [*session.scalars(select(Position.entry_order_id))]


def assert_book_is_the_account(trader, factory) -> None:
    with factory() as session:
        recorded = set(session.scalars(select(Order.client_order_id)))
        held = {pair: p.amount for pair, p in open_positions(session).items()}
    assert recorded == {fill.client_order_id for fill in trader.broker.orders()}
    entries = booked_entries(factory)
    assert len(entries) == len(set(entries)), "an entry was booked twice"
    assert holdings_mismatches(trader) == []
    balances = trader.broker.balances()
    coins = {pair: balances.get(pair.split("/")[0], 0.0) for pair in trader.pairs}
    assert held == pytest.approx({pair: coin for pair, coin in coins.items() if coin > 1e-12})


def said(caplog, kind: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "kind", "") == kind]


def test_a_lost_store_is_rebuilt_from_the_account_and_no_fill_is_booked_twice(
    store, busy, lose_store, caplog
):
    first, _ = run_paper(store[1], busy)
    at_exchange = [fill.client_order_id for fill in first.broker.orders()]
    assert len(at_exchange) >= 4, "the first run should have traded"

    factory = lose_store()
    with caplog.at_level(logging.WARNING, logger="volt"):
        second, findings = run_paper(factory, busy)  # the same candles again

    assert any("recorded" in finding for finding in findings)  # the account's history adopted
    assert any("new id generation" in finding for finding in findings)
    assert_book_is_the_account(second, factory)
    new = [fill.client_order_id for fill in second.broker.orders()[len(at_exchange) :]]
    assert new, "the replay traded anew"
    assert second.account.generation not in ("", first.account.generation)
    assert all(f"-{second.account.generation}" in cid for cid in new)
    assert not said(caplog, "order_duplicate")  # no order met an old one's id
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [m for m in warned if "UNPROTECTED" in m], warned[:5]


def test_a_store_restored_from_an_older_copy_sends_under_a_new_generation(
    store, busy, volt_home, tmp_path, caplog
):
    sqlite_only(store)
    first, _ = run_paper(store[1], busy, market_hours=HOURS / 4)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(volt_home / "volt.db") as live, sqlite3.connect(copy) as saved:
        live.backup(saved)
    copied_at, copied = first.account.clock.now(), len(first.broker.orders())
    run_paper(store[1], busy, clock=first.account.clock)
    assert len(first.broker.orders()) > copied, "the account traded on after the copy"
    store[0].dispose()
    for leftover in volt_home.glob("volt.db*"):
        leftover.unlink()
    shutil.copy(copy, volt_home / "volt.db")
    engine = make_engine()
    factory = make_session_factory(engine)

    with caplog.at_level(logging.WARNING, logger="volt"):
        second, findings = run_paper(factory, busy, start=copied_at)  # candles traded since

    assert any("new id generation" in finding for finding in findings)
    assert second.account.generation != first.account.generation
    assert_book_is_the_account(second, factory)
    assert not said(caplog, "order_duplicate")
    engine.dispose()


def test_a_start_that_fails_while_rebuilding_the_book_has_already_left_the_old_ids(
    store, busy, lose_store, monkeypatch
):
    first, _ = run_paper(store[1], busy, market_hours=HOURS / 4)
    factory = lose_store()
    trader = build_trader(load_config(busy), factory, FastForwardClock(START))
    lost_generation = read_state(factory).order_generation

    def killed(*_):
        raise RuntimeError("worker killed while adopting")

    monkeypatch.setattr(reconciliation, "_adopt", killed)
    with pytest.raises(RuntimeError):
        reconcile(trader)

    renewed = read_state(factory).order_generation
    assert renewed not in (lost_generation, first.account.generation)
    assert trader.account.generation == renewed


def test_a_send_noted_but_never_made_does_not_keep_a_restored_store_on_its_old_ids(
    store, busy, lose_store
):
    """A worker of the copied store was killed between noting an order and sending it: the
    row stays, the broker never heard of it, and the store still moves to a new generation."""
    run_paper(store[1], busy, market_hours=HOURS / 4)
    factory = lose_store()
    generation = read_state(factory).order_generation
    never_sent = PendingOrder(
        client_order_id=f"volt-BTCUSDT-1-b-{generation}",
        sent_at=START,
        pair="BTC/USDT",
        side="buy",
        reason="signal",
    )
    with transaction(factory) as session:
        session.add(never_sent)
    trader = build_trader(load_config(busy), factory, FastForwardClock(START))

    findings = reconcile(trader)

    assert any("new id generation" in finding for finding in findings)
    assert read_state(factory).order_generation == trader.account.generation != generation


def test_an_old_fill_the_exchange_answers_with_is_never_booked_again(
    store, busy, lose_store, caplog
):
    """Ids without a generation (as a store from before them sends) meet the lost store's
    orders: the exchange answers the replay's orders with fills the rebuilt book holds."""
    run_paper(store[1], busy, generation="")
    factory = lose_store()

    with caplog.at_level(logging.ERROR, logger="volt"):
        second, _ = run_paper(factory, busy, generation="")

    assert_book_is_the_account(second, factory)
    duplicates = said(caplog, "order_duplicate")
    assert duplicates and all("booked before; not booked again" in m for m in duplicates)


def test_a_fast_paper_clock_that_lost_its_store_resumes_after_the_accounts_last_fill(
    store, busy, lose_store
):
    """A run at speed got ahead of the wall; its store is lost. The new clock starts after
    the account's trades, not among them at the wall's time."""
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    first, _ = run_paper(store[1], busy, start=ahead)
    last_fill = max(fill.ts for fill in first.broker.orders())
    lose_store()

    clock = build_clock(load_config(busy), 3000.0, None)

    assert clock.now() >= last_fill > datetime.now(UTC) + timedelta(days=29)


def test_what_a_worker_adopted_is_in_the_events_before_it_ticks_on(
    store, busy, lose_store, monkeypatch
):
    """Killed right after reconciling (as in the soak), a worker has still stored what it
    adopted: the findings are written before it goes on, not left in the writer's queue."""
    run_paper(store[1], busy, market_hours=HOURS / 4)
    factory = lose_store()
    real = events.record_event

    def slow_store(*args, **kwargs):
        time.sleep(0.02)
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "record_event", slow_store)
    # At 10x a tick is 6 s: the worker waits up to 1 s for its findings to be written.
    worker = Worker(load_config(busy), factory, speed=10.0)
    handler = EventsHandler(factory, "worker")
    logging.getLogger().addHandler(handler)
    try:
        worker.reconcile_book()
        with factory() as session:  # at once: no flush, no waiting
            stored = [*session.scalars(select(Event.message).where(Event.kind == "reconciliation"))]
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert any("recorded volt-" in message for message in stored), stored
    assert any("new id generation" in message for message in stored)
