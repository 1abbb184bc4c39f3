"""A paper account whose store is lost: `volt.db` deleted (on PostgreSQL, VOLT's tables
dropped) while the paper exchange's own record is kept. The restarted engine replays the same
candles; its book is rebuilt from the account, and no fill the exchange already holds is
booked again as a new entry."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config import load_config
from data.store.db import make_engine, make_session_factory
from data.store.models import Base, Order, Position, Trade
from data.store.state import update_state
from engine.clock import FastForwardClock
from engine.trading.book import open_positions
from engine.trading.reconcile import holdings_mismatches, reconcile
from engine.wiring import build_clock, build_trader
from tests.support.runs import START, run_ticks

HOURS = 24  # market hours each run: round trips closed, and positions open at its end
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


def run_paper(
    factory, config, market_hours: float = HOURS, generation: str | None = None, start=START
):
    """A worker's run from START: reconciliation first, then its ticks. `generation`: the
    store's order generation set first ("" as a store from before generations has)."""
    if generation is not None:
        update_state(factory, order_generation=generation)
    clock = FastForwardClock(start)
    trader = build_trader(load_config(config), factory, clock)
    findings = reconcile(trader)
    run_ticks(trader, clock, market_hours)
    return trader, findings


def booked(factory) -> tuple[Counter, list[int]]:
    """Each order's client id (counted), and the entry order of every round trip and open
    position: an entry booked twice shows up twice."""
    with factory() as session:
        cids = Counter(session.scalars(select(Order.client_order_id)))
        entries = [*session.scalars(select(Trade.entry_order_id))]
        entries += [*session.scalars(select(Position.entry_order_id))]
    return cids, entries


def test_a_lost_store_is_rebuilt_from_the_account_and_no_fill_is_booked_twice(
    store, busy, lose_store, caplog
):
    first, _ = run_paper(store[1], busy)
    at_exchange = [fill.client_order_id for fill in first.broker.orders()]
    assert len(at_exchange) >= 4, "the first run should have traded"

    factory = lose_store()
    with caplog.at_level(logging.WARNING, logger="volt"):
        second, findings = run_paper(factory, busy)

    assert any("recorded" in finding for finding in findings)  # the account's history adopted
    orders = second.broker.orders()
    cids, entries = booked(factory)
    assert set(cids) == {fill.client_order_id for fill in orders}  # every fill booked
    assert max(cids.values()) == 1 and len(entries) == len(set(entries))  # none twice
    assert len(orders) > len(at_exchange)  # the replay traded anew, under ids of its own
    new = [fill.client_order_id for fill in orders[len(at_exchange) :]]
    assert not set(new) & set(at_exchange)
    assert holdings_mismatches(second) == []  # the book holds what the account holds
    with factory() as session:
        held = {pair: p.amount for pair, p in open_positions(session).items()}
    coins = {pair: second.broker.balances().get(pair.split("/")[0], 0.0) for pair in second.pairs}
    assert held == pytest.approx({pair: coin for pair, coin in coins.items() if coin > 1e-12})
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in warned if "UNPROTECTED" in m or "already held" in m], warned[:5]


def test_an_old_fill_the_exchange_answers_with_is_never_booked_again(
    store, busy, lose_store, caplog
):
    """Ids without a generation (a store from before them) meet the lost store's orders: the
    exchange answers the replay's orders with fills the rebuilt book already holds."""
    run_paper(store[1], busy, generation="")
    factory = lose_store()

    with caplog.at_level(logging.ERROR, logger="volt"):
        second, _ = run_paper(factory, busy, generation="")

    cids, entries = booked(factory)
    assert set(cids) == {fill.client_order_id for fill in second.broker.orders()}
    assert max(cids.values()) == 1 and len(entries) == len(set(entries))
    assert holdings_mismatches(second) == []
    said = [r.getMessage() for r in caplog.records if getattr(r, "kind", "") == "order_duplicate"]
    assert said and all("booked before; not booked again" in message for message in said)


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
