"""The account side against the loopback Binance: reading every recent fill, IP bans and keys
revoked mid-run, and a worker that cannot reconcile (fixtures of test_exchange_binance)."""

from datetime import UTC, datetime

import pytest

from data.store.models import Position
from data.store.state import read_state
from data.types import Action, Consensus
from engine.trading import book
from engine.trading.execution import place_order, record_fill
from engine.trading.loop import TickReport
from engine.trading.reconcile import reconcile
from engine.trading.tick_records import DecisionPlan
from engine.venues.binance.client_ids import client_order_id
from engine.venues.ccxt.exchange import IpBanned
from engine.venues.errors import PermanentError
from engine.venues.retry import with_retries
from tests.support.binance import approve_buy, connect

HOUR_MS = 3_600_000


def filled_while_away(trader, fake, pair, price, amount, hours_ago, parts=1):
    """A VOLT limit buy that filled (in `parts` trades) `hours_ago`, never recorded."""
    cid = client_order_id(pair, datetime.now(UTC), f"b{hours_ago}")
    trader.exchange.api.create_order(pair, "limit", "buy", amount, price, {"clientOrderId": cid})
    (order,) = [o for o in fake.orders.values() if o["clientOrderId"] == cid]
    for _ in range(parts):
        fake._fill(order, order["price"], order["origQty"] / parts)
    for trade in fake.trades:
        if trade["orderId"] == order["orderId"]:
            trade["time"] = fake.now() - int(hours_ago * HOUR_MS)
    return cid


def test_reconciliation_reads_every_fill_of_the_window_24_hours_and_a_page_at_a_time(
    trader, fake, store, monkeypatch
):
    monkeypatch.setattr("engine.venues.binance.rules.TRADES_PAGE", 2)  # Binance's 1000, made small
    old = filled_while_away(trader, fake, "BTC/USDT", 59_000, 0.0002, hours_ago=30)
    recent = filled_while_away(trader, fake, "ETH/USDT", 2_000, 0.003, hours_ago=1, parts=3)
    findings = reconcile(trader)
    assert any(f"recorded {old}" in f for f in findings), findings
    assert any(f"recorded {recent}" in f for f in findings), findings
    with store[1]() as session:
        eth = session.get(Position, "ETH/USDT")
        assert eth is not None and eth.amount == pytest.approx(0.003 * 0.999)  # all 3 trades
    calls = fake.calls("GET", "/api/v3/myTrades")
    windows = [int(c["endTime"]) - int(c["startTime"]) for c in calls if "startTime" in c]
    assert windows and max(windows) < 24 * HOUR_MS
    assert any("fromId" in c for c in calls)  # past a full page


def test_the_fake_refuses_a_trades_window_over_24_hours(trader):
    api = trader.exchange.api
    since = api.milliseconds() - 30 * HOUR_MS
    with pytest.raises(Exception, match="More than 24 hours"):
        api.fetch_my_trades("BTC/USDT", since, 10, {"endTime": since + 25 * HOUR_MS})


def test_an_ip_ban_pauses_calls_for_retry_after_and_says_so(trader, fake, events):
    fake.ban_next("GET", "/api/v3/account", retry_after=30)
    with pytest.raises(IpBanned, match="banned this IP"):
        with_retries(trader.broker.cash, "cash")
    assert len(fake.calls("GET", "/api/v3/account")) == 1  # no hammering during the ban
    with pytest.raises(IpBanned, match="not sent: binance has banned this IP"):
        trader.exchange.call("account", trader.exchange.api.fetch_balance)
    assert len(fake.calls("GET", "/api/v3/account")) == 1, "a call during the ban was sent"
    assert "banned this IP (HTTP 418) for 30 s" in trader.exchange.monitor.last_error
    assert any(e.kind == "exchange_ban" and "30 s" in e.message for e in events())


def test_a_key_revoked_mid_run_is_a_key_problem_not_a_rate_limit(trader, fake, monkeypatch):
    assert trader.broker.cash() > 0  # the key worked once
    monkeypatch.setattr("tests.support.fake_binance.API_KEY", "revoked-meanwhile")
    trader.broker._balance = None
    with pytest.raises(PermanentError, match="refused the API key"):
        with_retries(trader.broker.cash, "cash")
    assert len(fake.calls("GET", "/api/v3/account")) == 2  # refused once, never retried


def test_while_reconciliation_keeps_failing_only_exits_run(settings, fake, store, monkeypatch):
    from engine.runtime.worker import Worker

    monkeypatch.setattr("engine.wiring.build_exchange", lambda s: connect(s, fake))
    worker = Worker(settings, store[1])
    trader = worker.trader
    fill = place_order(trader.broker, approve_buy(trader), datetime.now(UTC))
    with store[1].begin() as session:
        order, row = record_fill(session, fill, "signal", None)
        book.record_entry(session, order, row, 50_000.0, 70_000.0)

    fake.fail_next("GET", "/api/v3/openOrders", 503, times=50)
    worker.reconcile_book()
    assert worker.reconcile_due and "unreachable or busy" in worker.reconcile_error
    worker.tick_once()
    assert "reconciliation with the exchange pending" in read_state(store[1]).entry_blocks
    posts = len(fake.calls("POST", "/api/v3/order"))
    assert decide(trader, store, "ETH/USDT").startswith(
        "entries paused: reconciliation with the exchange pending"
    )
    assert len(fake.calls("POST", "/api/v3/order")) == posts  # no entry sent
    assert trader.close_position("BTC/USDT", "manual", "m1").startswith("closed BTC/USDT")

    fake.faults.clear()
    worker.reconcile_book()
    worker.tick_once()
    assert worker.reconcile_error == ""
    assert "reconciliation" not in (read_state(store[1]).entry_blocks or "")


def decide(trader, store, pair):
    now = datetime.now(UTC)
    consensus = Consensus(Action.BUY, 1.0, 0.5, {}, ())
    candle = now.replace(year=now.year + 1)  # a candle no tick has decided on
    plan = DecisionPlan(pair, candle, 3_000.0, 30.0, "normal", consensus)
    return trader.batch.book_decision(plan, now, TickReport())
