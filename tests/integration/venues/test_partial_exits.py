"""A sale that fills less than held: the sold part is booked, the rest stays open and
protected, and what is too small to sell is written off in the last sale's trade. Against the
loopback Binance."""

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from data.store.models import Order, Position, Trade
from engine.trading import book
from engine.trading.execution import place_order, record_fill
from engine.trading.reconcile import holdings_mismatches
from tests.support.binance import approve_buy


def held_position(trader, store):
    fill = place_order(trader.broker, approve_buy(trader), datetime.now(UTC))
    with store[1].begin() as session:
        order, row = record_fill(session, fill, "signal", None)
        book.record_entry(session, order, row, 50_000.0, 70_000.0)
    return fill


def test_a_half_filled_sale_books_half_and_keeps_the_rest_protected(trader, fake, store, events):
    bought = held_position(trader, store)
    fake.fill_ratio = 0.5  # a thin book: the market sell expires half filled
    message = trader.close_position("BTC/USDT", "manual", "c")

    sent = float(fake.calls("POST", "/api/v3/order")[-1]["quantity"])
    sold = round(sent / 2, 5)
    assert message.startswith(f"sold only BTC/USDT {sold:.6g}") and "still open" in message
    with store[1]() as session:
        position = session.get(Position, "BTC/USDT")
        (trade,) = session.scalars(select(Trade)).all()
    assert position.amount == pytest.approx(bought.amount - sold)
    assert (position.stop_loss, position.take_profit) == (50_000.0, 70_000.0)
    share = sold / bought.amount
    assert position.entry_fee == pytest.approx(bought.fee * (1 - share))
    assert trade.amount == pytest.approx(sold)
    sale_fee = sold * 60_000.0 * 0.001
    cost = sold * bought.price + bought.fee * share
    assert trade.pnl == pytest.approx(sold * 60_000.0 - sale_fee - cost)
    trader.broker._balance = None
    assert holdings_mismatches(trader) == []  # the rest is VOLT's, not reported as foreign
    assert any(e.kind == "partial_exit" for e in events())


def test_the_rest_is_sold_with_an_id_of_its_own_and_its_dust_written_off_in_it(
    trader, fake, store, events, caplog
):
    caplog.set_level(logging.INFO, "volt.book")  # the dust note is an INFO event
    bought = held_position(trader, store)
    fake.fill_ratio = 0.5
    trader.close_position("BTC/USDT", "manual", "c")
    fake.fill_ratio = 1
    # The same decision again (same candle, same tag): its first id would find the first sale.
    message = trader.close_position("BTC/USDT", "manual", "c")
    assert message.startswith("closed BTC/USDT"), message

    sells = [c for c in fake.calls("POST", "/api/v3/order") if c["side"] == "SELL"]
    assert len(sells) == 2
    assert sells[1]["newClientOrderId"] == sells[0]["newClientOrderId"] + "-r1"
    with store[1]() as session:
        assert session.get(Position, "BTC/USDT") is None
        trades = session.scalars(select(Trade).order_by(Trade.id)).all()
        orders = session.scalars(select(Order).where(Order.side == "sell")).all()
    assert [t.exit_reason for t in trades] == ["manual", "manual"]  # no dust trade
    assert len(orders) == 2
    trader.broker._balance = None
    left = trader.broker.balances().get("BTC", 0.0)
    assert 0 < left < trader.broker.dust("BTC/USDT")
    assert [t.dust for t in trades] == [0.0, pytest.approx(left)]
    # The two sales bear the whole entry between them: the coin sold, the dust, its fee.
    assert sum(t.amount for t in trades) + left == pytest.approx(bought.amount)
    entry_costs = [t.amount * t.exit_price - t.fees - t.pnl for t in trades]
    assert sum(entry_costs) == pytest.approx(bought.amount * bought.price)
    assert holdings_mismatches(trader) == []
    assert any(e.kind == "dust" and "written off" in e.message for e in events())
