"""The ccxt feed and broker against a loopback Binance: real ccxt builds, signs and parses every
request; the fake exchange checks keys, signatures, timestamps, filters and balances."""

import logging
import re
from datetime import UTC, datetime

import pytest

from config.keys import load_api_keys
from data import queries
from data.store.models import Position
from engine.clock import FastForwardClock
from engine.trading.execution import place_order
from engine.venues.binance.client_ids import client_order_id
from engine.venues.ccxt.exchange import make_exchange
from engine.venues.ccxt.limits import OrderAboveMaximum, OrderBelowMinimum
from engine.venues.errors import PermanentError, TemporaryError
from engine.venues.retry import with_retries
from engine.wiring import build_gate, build_trader, venue_rules
from risk import OrderIntent
from tests.support.binance import approve_buy, approve_sell, connect


def test_the_client_uses_the_sandbox_and_keeps_the_rate_limiter_on(settings):
    client = make_exchange(settings, load_api_keys(), venue_rules(settings))
    assert client.api.enableRateLimit
    assert client.api.urls["api"]["private"].startswith("https://testnet.binance.vision")


def test_a_market_buy_then_sell_fill_at_the_exchange_with_its_fees(trader, fake):
    buy = approve_buy(trader)
    assert buy.amount * buy.price <= 1000.0  # the gate sizes entries under the hard cap
    fill = place_order(trader.broker, buy, datetime.now(UTC))
    assert fill.price == 60_000.0 and not fill.duplicate
    # Binance takes the buy fee in the coin bought: the position is what the account holds.
    amount_sent = float(fake.calls("POST", "/api/v3/order")[0]["quantity"])
    assert fill.amount == pytest.approx(amount_sent * 0.999)
    assert fill.fee == pytest.approx(amount_sent * 0.001 * 60_000.0)
    trader.broker._balance = None
    assert trader.broker.balances()["BTC"] == pytest.approx(fill.amount)

    sell = approve_sell(trader, "BTC/USDT", fill.amount, 60_000.0)
    sold = place_order(trader.broker, sell, datetime.now(UTC))
    assert sold.side == "sell" and 0 < fill.amount - sold.amount < 0.00001  # dust stays
    assert sold.fee == pytest.approx(sold.amount * 60_000.0 * 0.001)
    assert trader.broker.cash() == pytest.approx(10_000 - fill.fee - sold.fee, abs=1.0)


def test_a_partial_market_fill_is_recorded_as_what_filled(trader, fake):
    fake.fill_ratio = 0.5  # the book runs dry halfway: Binance expires the rest
    buy = approve_buy(trader)
    fill = place_order(trader.broker, buy, datetime.now(UTC))
    sent = float(fake.calls("POST", "/api/v3/order")[0]["quantity"])
    assert fill.amount == pytest.approx(round(sent / 2, 5) * 0.999, rel=1e-6)
    assert [o["status"] for o in fake.orders.values()] == ["EXPIRED"]


def test_a_limit_order_is_polled_then_its_unfilled_rest_cancelled(trader, fake):
    from dataclasses import replace

    fake.fill_ratio = 0.25
    buy = replace(approve_buy(trader, price=60_100.0), order_type="limit")
    fill = place_order(trader.broker, buy, datetime.now(UTC))
    (order,) = fake.orders.values()
    assert order["status"] == "CANCELED"
    assert len(fake.calls("GET", "/api/v3/order")) >= 3  # looked up, then polled
    assert fill.amount == pytest.approx(float(order["executedQty"]) * 0.999)
    assert fake.balances["USDT"][1] == 0  # nothing left reserved


def test_an_order_below_the_minimum_notional_is_skipped_not_sent(trader, fake, events):
    buy = approve_buy(trader)
    tiny = type(buy)(**{**buy.__dict__, "amount": 0.00005})  # 3 USDT < 5 USDT minimum
    with pytest.raises(OrderBelowMinimum, match=r"below binance's minimum order value 5 USDT"):
        trader.broker.submit(tiny, datetime.now(UTC))
    assert fake.calls("POST", "/api/v3/order") == []


def test_an_order_above_the_hard_maximum_is_never_sent(trader, fake):
    buy = approve_buy(trader)
    big = type(buy)(**{**buy.__dict__, "amount": 0.02})  # 1200 USDT > 1000
    with pytest.raises(OrderAboveMaximum, match="exchange.max_order_value 1000"):
        trader.broker.submit(big, datetime.now(UTC))
    assert fake.calls("POST", "/api/v3/order") == []


def test_insufficient_balance_is_refused_once_with_a_message_a_trader_can_act_on(trader, fake):
    trader.broker.max_order_value = 1e9
    buy = approve_buy(trader)
    big = type(buy)(**{**buy.__dict__, "amount": 1.0})  # 60000 USDT, the account has 10000
    with pytest.raises(PermanentError, match="too little balance for this order; deposit more"):
        place_order(trader.broker, big, datetime.now(UTC))
    assert len(fake.calls("POST", "/api/v3/order")) == 1  # permanent: never retried


@pytest.mark.client_timeout(1.0)
def test_a_timeout_after_the_exchange_accepted_the_order_never_doubles_it(trader, fake, events):
    fake.hang_after_accepting_next("POST", "/api/v3/order", seconds=1.5)
    buy = approve_buy(trader)
    fill = place_order(trader.broker, buy, datetime.now(UTC))
    assert fill.duplicate and fill.client_order_id == buy.client_order_id
    assert len(fake.calls("POST", "/api/v3/order")) == 1
    assert len(fake.orders) == 1
    assert any(e.kind == "order_unknown" and "looking it up" in e.message for e in events())


def test_http_429_is_retried_with_backoff_then_the_order_goes_through_once(trader, fake, events):
    fake.fail_next("GET", "/api/v3/account", 429)
    assert with_retries(trader.broker.cash, "cash") == 10_000.0
    fake.fail_next("POST", "/api/v3/order", 429)
    fill = place_order(trader.broker, approve_buy(trader), datetime.now(UTC))
    assert len(fake.calls("POST", "/api/v3/order")) == 2 and len(fake.orders) == 1
    assert fill.amount > 0
    assert any("rate limited by binance (HTTP 429)" in e.message for e in events())


def test_http_5xx_is_temporary_and_retried(trader, fake):
    fake.fail_next("GET", "/api/v3/klines", 503, times=2)
    candles = with_retries(
        lambda: trader.feed.candles("BTC/USDT", datetime.now(UTC), 50), "candles"
    )
    assert len(candles) == 50
    # The broker retries its reads itself (3 tries), under the 4 here: 12 in all.
    fake.fail_next("GET", "/api/v3/account", 502, times=12)
    with pytest.raises(TemporaryError, match="unreachable or busy"):
        with_retries(trader.broker.cash, "cash")
    assert trader.exchange.monitor.reachable is False


def test_the_feed_returns_closed_candles_only(trader):
    now = datetime.now(UTC)
    candles = trader.feed.candles("ETH/USDT", now, 30)
    assert len(candles) == 30
    last_open = candles.index[-1].to_pydatetime()
    assert (now - last_open).total_seconds() >= 300  # the forming candle is left out
    assert trader.current_price("ETH/USDT", now) == 3000.0  # from the ticker


def test_a_clock_outside_recv_window_is_resynced_with_the_exchange(trader, fake, events):
    fake.clock_offset_ms = 30_000  # this laptop's clock is 30 s behind the exchange's
    assert with_retries(trader.broker.cash, "cash") == 10_000.0
    skew = [e.message for e in events() if e.kind == "clock_skew"]
    assert skew and "30.0 s off" in skew[0] and "timedatectl" in skew[0]


@pytest.mark.parametrize("bad", ["key", "secret"])
def test_bad_keys_are_permanent_and_neither_key_nor_secret_is_ever_shown(
    bad, settings, fake, events, monkeypatch, caplog
):
    secret = "s3cret-that-must-not-leak-" + bad
    if bad == "key":
        monkeypatch.setenv("VOLT_API_KEY", "k3y-that-must-not-leak")
    monkeypatch.setenv("VOLT_API_SECRET", secret)
    from engine.wiring import build_broker

    broker = build_broker(settings, connect(settings, fake))
    with caplog.at_level(logging.INFO), pytest.raises(PermanentError) as refused:
        try:
            with_retries(broker.cash, "cash")
        except PermanentError as exc:
            logging.getLogger("volt.test").exception("cash: %s", exc)  # as the engine reports
            raise
    assert "refused the API key" in str(refused.value)
    assert len(fake.calls("GET", "/api/v3/account")) == 1  # permanent: never retried
    shown = [str(refused.value), caplog.text, repr(load_api_keys())]
    shown += [e.message + e.traceback for e in events()]
    for text in shown:
        assert secret not in text and "k3y-that-must-not-leak" not in text
    assert any("refused the API key" in e.message for e in events())


def test_client_order_ids_fit_binance_and_stay_the_same_for_the_same_decision():
    candle = datetime(2026, 3, 1, tzinfo=UTC)
    for pair, tag in [("BTC/USDT", "b"), ("1000SATS/USDT", "k123456-1000SATS")]:
        cid = client_order_id(pair, candle, tag)
        assert re.fullmatch(r"volt-[a-zA-Z0-9-_]{1,31}", cid)
        assert cid == client_order_id(pair, candle, tag)
    assert client_order_id("BTC/USDT", candle, "b") != client_order_id("BTC/USDT", candle, "s")


def test_reconciliation_after_a_restart_records_an_order_that_filled_meanwhile(
    settings, fake, store, events
):
    from engine.trading.reconcile import reconcile

    clock = FastForwardClock(datetime.now(UTC))
    before = build_trader(settings, store[1], clock, connect(settings, fake))
    api = before.exchange.api
    # A VOLT limit buy rests at the exchange when the worker dies; others are the owner's.
    ours = client_order_id("BTC/USDT", clock.now(), "b")
    api.create_order("BTC/USDT", "limit", "buy", 0.01, 59_000, {"clientOrderId": ours})
    left = client_order_id("ETH/USDT", clock.now(), "b")
    api.create_order("ETH/USDT", "limit", "buy", 0.1, 2_000, {"clientOrderId": left})
    api.create_order("ETH/USDT", "limit", "buy", 0.1, 1_900, {"clientOrderId": "web_by_hand"})
    fake.fund("ETH", "0.5")

    for order in fake.orders.values():  # while VOLT is down, the BTC order fills
        if order["clientOrderId"] == ours:
            fake._fill(order, order["price"], order["origQty"])

    after = build_trader(settings, store[1], clock, connect(settings, fake))
    findings = reconcile(after)
    assert any(f"recorded {ours}" in f and "stop" in f for f in findings)
    assert any(left in f and "cancelled" in f for f in findings)
    assert any("web_by_hand" in f and "not placed by VOLT" in f for f in findings)
    assert any(f.startswith("ETH:") and "not VOLT's: reported, not adopted" in f for f in findings)
    with store[1]() as session:
        position = session.get(Position, "BTC/USDT")
        assert position is not None and position.amount == pytest.approx(0.01 * 0.999)
        assert position.stop_loss < position.entry_price == 59_000
        assert session.get(Position, "ETH/USDT") is None  # reported, never adopted
    statuses = {o["clientOrderId"]: o["status"] for o in fake.orders.values()}
    assert statuses == {ours: "FILLED", left: "CANCELED", "web_by_hand": "NEW"}
    again = reconcile(after)
    assert not any("recorded" in f or "cancelled" in f for f in again), again


def test_the_worker_publishes_exchange_status_for_the_control_page(
    settings, fake, store, monkeypatch
):
    from engine.runtime.worker import Worker

    monkeypatch.setattr("engine.wiring.build_exchange", lambda s: connect(s, fake))
    worker = Worker(settings, store[1])
    worker.reconcile_book()
    fake.fail_next("GET", "/api/v3/ticker/24hr", 503)
    with pytest.raises(TemporaryError):
        worker.trader.feed.last_price("BTC/USDT")
    worker.tick_once()
    worker.publish_exchange_status()
    status = queries.exchange_status(store[0])
    assert status["exchange"] == "binance testnet" and status["reachable"] is True
    assert status["balances"]["USDT"] > 0
    assert "unreachable or busy" in status["last_error"]
    assert {"call", "ms", "ok", "at"} <= set(status["calls"][-1])
    assert any(call["call"] == "BTC/USDT candles" for call in status["calls"])


def test_the_risk_gate_sizes_entries_under_the_hard_maximum(settings):
    gate = build_gate(settings)
    from data.types import PortfolioView

    book = PortfolioView(equity=1_000_000.0, cash=1_000_000.0, positions={})
    intent = OrderIntent("BTC/USDT", "buy", 60_000.0, "volt-x", "signal", atr=600.0)
    order = gate.approve(intent, book)
    assert order.amount * order.price <= settings.exchange.max_order_value
