"""A buy sized to exchange.max_order_value on the candle's close, sent when the live price
(the ticker, at which the broker values a market order) is a little above it: the order is
shrunk under the cap, never refused for a hair over it, and never sent above it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from data.store.models import Decision, Position, Rejection
from data.types import Action
from engine.trading.execution import place_order
from engine.venues.ccxt.limits import CAP_SHRINK_TOLERANCE, OrderAboveMaximum
from tests.support.binance import approve_buy, decide

CAP = 1000.0  # exchange.max_order_value in the loopback testnet settings
CLOSE = 60_000.0  # the candle's close the gate sized the entry on


def sent_value(fake, price: Decimal) -> float:
    (order,) = fake.calls("POST", "/api/v3/order")
    return float(Decimal(order["quantity"]) * price)


def test_the_gate_sizes_an_entry_at_the_cap_on_the_price_it_is_given(trader):
    buy = approve_buy(trader, price=CLOSE)
    assert buy.amount * CLOSE == pytest.approx(CAP, rel=1e-5)


def test_a_buy_at_the_cap_sent_when_the_ticker_is_above_the_close_goes_out_under_the_cap(
    trader, fake
):
    live = Decimal("60300")  # 0.5 % above the close
    fake.prices["BTCUSDT"] = live
    fill = place_order(trader.broker, approve_buy(trader, price=CLOSE), datetime.now(UTC))
    assert CAP * 0.99 < sent_value(fake, live) <= CAP
    assert fill.price == float(live) and fill.amount > 0


def test_a_buy_the_price_ran_away_from_is_refused_not_sent(trader, fake):
    """Beyond the tolerance the approval's stops and size are stale: nothing is sent."""
    live = Decimal(str(CLOSE * (1 + 2 * CAP_SHRINK_TOLERANCE)))
    fake.prices["BTCUSDT"] = live
    with pytest.raises(OrderAboveMaximum, match=r"the price moved .* since the order was sized"):
        trader.broker.submit(approve_buy(trader, price=CLOSE), datetime.now(UTC))
    assert fake.calls("POST", "/api/v3/order") == []


def test_a_decided_entry_is_bought_under_the_cap_and_no_refusal_is_counted(trader, fake, store):
    """The tick's way: the decision priced at the candle's close, the ticker 0.5 % above."""
    live = Decimal("60300")
    fake.prices["BTCUSDT"] = live
    outcome = decide(trader, Action.BUY, datetime.now(UTC), price=CLOSE)
    assert outcome.startswith("bought"), outcome
    assert sent_value(fake, live) <= CAP
    with store[1]() as session:
        assert session.scalars(select(Rejection)).all() == []  # nothing for the breaker
        audit = session.scalars(select(Decision)).one().audit or ""
        assert "partial" not in audit  # shrunk under the cap is not a partial fill
        assert session.get(Position, "BTC/USDT").amount * float(live) <= CAP
