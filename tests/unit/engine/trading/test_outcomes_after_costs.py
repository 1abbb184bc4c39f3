"""The journal and learning judge outcomes after costs: a round trip that gained less than
its fees and slippage is a LOSS, a marked one pays the sale it would take, and the team
learns against the break-even that counts the round trip."""

from datetime import timedelta

import pytest

from config import load_config
from data.stats.scorecard import call_records
from data.store.agent_calls import recent_calls
from data.store.db import transaction
from data.store.models import Decision, Fill, Order, VoteRow
from engine.trading import book, journal
from engine.venues.paper import paper_fill
from tests.support.runs import START

FEE, SLIPPAGE = 0.001, 0.0005  # the default broker's: a 0.30 % round trip
FIVE_MIN, DAY = timedelta(minutes=5), timedelta(hours=24)


def filled(session, decision_id, side, price, ts):
    """An order filled as the paper broker fills it: slippage in the price, a fee on top."""
    fill_price, fee = paper_fill(side, price, 1.0, FEE, SLIPPAGE)
    order = Order(
        client_order_id=f"volt-{side}-{decision_id}",
        decision_id=decision_id,
        ts=ts,
        pair="BTC/USDT",
        side=side,
        amount=1.0,
        price=price,
        status="filled",
    )
    session.add(order)
    session.flush()
    fill = Fill(
        order_id=order.id, ts=ts, pair="BTC/USDT", side=side, amount=1.0, price=fill_price, fee=fee
    )
    session.add(fill)
    session.flush()
    return order, fill


def bought_at(session, price):
    """A BUY decision the technical agent called, executed and booked as an open position."""
    decision = Decision(
        ts=START,
        pair="BTC/USDT",
        candle_ts=START,
        price=price,
        action="BUY",
        score=0.7,
        threshold=0.55,
        regime="normal",
        executed=True,
    )
    session.add(decision)
    session.flush()
    session.add(
        VoteRow(
            decision_id=decision.id,
            agent="technical",
            action="BUY",
            confidence=0.8,
            weight=1.0,
            source="rule",
            rationale="technical says BUY",
            data={},
        )
    )
    order, fill = filled(session, decision.id, "buy", price, START)
    book.record_entry(session, order, fill, stop_loss=price * 0.98, take_profit=price * 1.001)
    return journal.open_entry(session, decision, order, fill)


def follow(session, now, marks=None, sale_cost=0.0):
    return journal.follow(session, now, marks or {}, FIVE_MIN, DAY, 12, sale_cost)[0]


def test_a_take_profit_that_gained_less_than_its_costs_is_a_loss(store):
    with transaction(store[1]) as session:
        entry = bought_at(session, 100.0)
        # The price rose 0.2 %: a take-profit, but the round trip cost 0.30 %.
        order, fill = filled(session, None, "sell", 100.2, START + timedelta(hours=1))
        trade = book.record_exit(session, order, fill, "take_profit")
        assert fill.price > entry.entry_price  # sold above the buy's fill ...
        assert trade.pnl < 0  # ... yet lost the fees
        assert follow(session, START + timedelta(hours=2)) == [entry]
        assert entry.outcome == "LOSS"
        assert entry.pnl == pytest.approx(trade.pnl)


def test_a_take_profit_that_clears_its_costs_is_a_win(store):
    with transaction(store[1]) as session:
        entry = bought_at(session, 100.0)
        order, fill = filled(session, None, "sell", 101.0, START + timedelta(hours=1))
        book.record_exit(session, order, fill, "take_profit")
        follow(session, START + timedelta(hours=2))
        assert entry.outcome == "WIN"
        assert entry.pnl == pytest.approx(101 * 0.9995 * 0.999 - 100 * 1.0005 * 1.001)


def test_the_agent_that_called_a_loss_after_costs_is_counted_wrong(store):
    with transaction(store[1]) as session:
        bought_at(session, 100.0)
        order, fill = filled(session, None, "sell", 100.2, START + timedelta(hours=1))
        book.record_exit(session, order, fill, "take_profit")
        follow(session, START + timedelta(hours=2))
    record = call_records(recent_calls(store[0], ["technical"], 50))["technical"]
    assert (record.samples, record.correct) == (1, 0)


def test_an_expired_buy_is_marked_after_the_sale_it_would_take(store):
    sale_cost = journal.sale_cost(FEE, SLIPPAGE)
    assert sale_cost == pytest.approx(1 - 0.9995 * 0.999)
    with transaction(store[1]) as session:
        entry = bought_at(session, 100.0)
        # Marked 0.2 % up a day later: above the buy's price, below it after the round trip.
        follow(session, START + DAY, {"BTC/USDT": 100.2}, sale_cost)
        cost = 100 * 1.0005 * 1.001  # the buy's slipped price and its fee
        assert entry.outcome == journal.EXPIRED
        assert entry.pnl == pytest.approx(100.2 * (1 - sale_cost) - cost)
        assert entry.pnl < 0
        assert entry.exit_price == 100.2  # the mark the market showed


def test_the_trader_marks_and_learns_with_the_configured_costs(trader_factory):
    trader, _ = trader_factory()
    settings = load_config(None)
    broker = settings.broker
    assert trader.learner.sale_cost == pytest.approx(
        journal.sale_cost(broker.fee_rate, broker.slippage_rate)
    )
    assert trader.learner.breakeven_accuracy == pytest.approx(0.6)  # 2 ATR stop, 3 ATR target
