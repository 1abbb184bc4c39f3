"""A sale the loopback Binance fills only in part (its book runs dry, the rest of the
market order expires): the buy's journal entry stays open until the position is closed,
then resolves on the whole round trip."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from data.store.db import transaction
from data.store.models import Decision, JournalEntry, Position, Trade
from data.types import Action
from engine.trading import journal
from tests.support.binance import decide

PAIR = "BTC/USDT"
CANDLE = timedelta(minutes=5)


def buy_entry(session) -> JournalEntry:
    return session.scalars(
        select(JournalEntry).join(Decision).where(Decision.action == "BUY")
    ).one()


def follow(session, now):
    journal.follow(session, now, {PAIR: 61_000.0}, CANDLE, timedelta(days=1), 12)


def test_a_buy_sold_in_two_parts_resolves_only_when_the_second_closes_it(trader, fake, store):
    start = datetime.now(UTC).replace(microsecond=0)
    assert decide(trader, Action.BUY, start).startswith("bought")
    fake.prices["BTCUSDT"] = Decimal("61000")  # the first part sells at a profit
    fake.fill_ratio = Decimal("0.5")
    decide(trader, Action.SELL, start + CANDLE)
    with transaction(store[1]) as session:
        assert session.get(Position, PAIR) is not None  # half still held
        follow(session, start + 2 * CANDLE)
        assert buy_entry(session).outcome == journal.PENDING

    fake.prices["BTCUSDT"] = Decimal("58000")  # the rest sells at a bigger loss
    fake.fill_ratio = Decimal(1)
    decide(trader, Action.SELL, start + 2 * CANDLE)
    with transaction(store[1]) as session:
        assert session.get(Position, PAIR) is None
        follow(session, start + 3 * CANDLE)
        entry = buy_entry(session)
        trades = session.scalars(select(Trade)).all()
        assert len(trades) == 2 and trades[0].pnl > 0 > trades[0].pnl + trades[1].pnl
        assert entry.outcome == "LOSS"
        assert entry.pnl == pytest.approx(sum(trade.pnl for trade in trades))
