"""Orders whose outcome is unknown, and what the broker reads from Binance's answers: against
the loopback Binance, with real ccxt (the fixtures of test_exchange_binance)."""

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from data.store.models import Decision, Order, Position
from data.types import Action, Consensus
from engine.trading.execution import place_order
from engine.trading.loop import TickReport
from engine.trading.reconcile import reconcile
from engine.trading.tick_records import DecisionPlan
from engine.venues.ccxt.fills import net_of_fees, order_client_id
from engine.venues.ccxt.limits import OrderBelowMinimum
from tests.support.binance import approve_buy
from tests.support.runs import wait_for


def same_id(fake, cid):
    return [o for o in fake.orders.values() if o["clientOrderId"] == cid]


@pytest.mark.client_timeout(1.0)
def test_an_order_executed_after_the_client_gave_up_is_found_not_sent_again(trader, fake):
    # Binance may execute a timed-out request later and then takes the same client order id
    # again: one lookup saying "no such order" must not lead to a resend.
    fake.execute_late_next(1.5)  # the client times out after 1.0 s
    buy = approve_buy(trader)
    fill = place_order(trader.broker, buy, datetime.now(UTC))
    assert fill.duplicate and fill.client_order_id == buy.client_order_id
    wait_for(lambda: "late executed" in fake.history, 10, "the late order to execute")
    assert len(same_id(fake, buy.client_order_id)) == 1
    assert len(fake.calls("POST", "/api/v3/order")) == 1


@pytest.mark.client_timeout(1.0)
def test_an_order_the_exchange_refused_as_too_old_is_sent_again_only_after_recv_window(
    trader, fake
):
    fake.execute_late_next(2.6)  # past recvWindow (2 s) when it reaches the matching engine
    buy = approve_buy(trader)
    fill = place_order(trader.broker, buy, datetime.now(UTC))
    assert fake.late_rejected == 1 and not fill.duplicate
    # the resend waited for the first to be refused
    sends = [i for i, what in enumerate(fake.history) if what == "POST /api/v3/order"]
    assert fake.history.index("late rejected") < sends[1]
    assert len(fake.calls("POST", "/api/v3/order")) == 2
    assert len(same_id(fake, buy.client_order_id)) == 1


@pytest.mark.client_timeout(1.0)
def test_when_the_exchange_cannot_tell_nothing_is_resent_and_reconciliation_records_it(
    trader, fake, store, events
):
    fake.execute_late_next(1.5)
    threading.Thread(target=fail_lookups_once_sent, args=(fake,), daemon=True).start()
    decision, report = decide_to_buy(trader, store)
    assert decision.outcome.startswith("order status unknown — reconciliation will settle it")
    assert not decision.executed and "BTC/USDT" in report.skipped
    assert len(fake.calls("POST", "/api/v3/order")) == 1
    with store[1]() as session:
        assert session.scalars(select(Order)).all() == []  # nothing recorded while unknown
    assert any(e.kind == "order_unknown" and "nothing resent" in e.message for e in events())

    fake.faults.clear()  # the exchange answers again
    findings = reconcile(trader)
    assert any("was sent with no clear answer: it executed" in f for f in findings), findings
    assert any(f"recorded {decision_cid(decision)}" in f for f in findings), findings
    with store[1]() as session:
        assert session.get(Position, "BTC/USDT") is not None
    assert len(fake.calls("POST", "/api/v3/order")) == 1


def fail_lookups_once_sent(fake):
    """Every lookup after the send fails: the exchange cannot say what became of it."""
    while not fake.calls("POST", "/api/v3/order"):
        time.sleep(0.01)
    fake.fail_next("GET", "/api/v3/order", 503, times=500)


def decide_to_buy(trader, store):
    """The trader acting on a buy decision, as a tick would."""
    now = datetime.now(UTC)
    consensus = Consensus(Action.BUY, 1.0, 0.5, {}, ())
    report = TickReport()
    trader.batch.book_decision(
        DecisionPlan("BTC/USDT", now, 60_000.0, 600.0, "normal", consensus), now, report
    )
    with store[1]() as session:
        return session.scalars(select(Decision)).one(), report


def decision_cid(decision):
    from data.store.db import as_utc
    from engine.venues.binance.client_ids import client_order_id

    return client_order_id(decision.pair, as_utc(decision.candle_ts), "b")


def test_the_expected_no_such_order_before_a_send_is_not_an_exchange_error(trader, fake):
    place_order(trader.broker, approve_buy(trader), datetime.now(UTC))
    monitor = trader.exchange.monitor
    assert monitor.last_error == ""
    lookups = [c for c in monitor.calls if c["call"].startswith("look up")]
    assert lookups and all(c["ok"] for c in lookups)


def test_a_cancelled_order_keeps_the_client_order_id_volt_gave_it(trader, fake):
    fake.fill_ratio = 0.25
    buy = replace(approve_buy(trader, price=60_100.0), order_type="limit")
    fill = place_order(trader.broker, buy, datetime.now(UTC))
    (order,) = fake.orders.values()
    assert order["status"] == "CANCELED"
    assert fill.client_order_id == buy.client_order_id  # not the cancel request's echo
    # Binance answers a cancel with the cancel request's own id; the broker reads the order's.
    api = trader.exchange.api
    rest = api.create_order("ETH/USDT", "limit", "buy", 0.01, 2_000, {"clientOrderId": "volt-x"})
    answer = api.cancel_order(rest["id"], "ETH/USDT")
    assert answer["clientOrderId"] != "volt-x"
    assert order_client_id(answer) == "volt-x"


def test_a_market_order_is_checked_against_the_market_price_not_the_decisions(trader, fake):
    buy = approve_buy(trader)
    # 6 USDT at the decision's 60000, but the market is at 40000 now: 4 USDT < 5 minimum.
    small = replace(buy, amount=0.0001)
    fake.prices["BTCUSDT"] = fake.prices["BTCUSDT"] * 2 / 3
    with pytest.raises(OrderBelowMinimum, match="minimum order value 5 USDT"):
        trader.broker.submit(small, datetime.now(UTC))
    assert fake.calls("POST", "/api/v3/order") == []


def test_a_fee_in_a_third_currency_is_estimated_once_per_order(trader):
    fees = [{"currency": "BNB", "cost": 0.0001}] * 4  # one order, four trades
    amount, fee = net_of_fees("BTC/USDT", "buy", 0.01, 60_000.0, fees, trader.broker.fee_rate)
    assert amount == 0.01
    assert fee == pytest.approx(0.01 * 60_000.0 * 0.001)
