"""Every order passes the risk gate; sizes follow risk per trade and never break the limits."""

import math
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from data.types import OpenPosition, PortfolioView
from engine.venues.paper import PaperExchange, make_exchange_factory
from risk import ApprovedOrder, OrderIntent, RiskGate, RiskLimits, RiskRejection

LIMITS = RiskLimits(
    risk_per_trade=0.01,
    stop_atr_multiple=2.0,
    take_profit_atr_multiple=3.0,
    max_position_fraction=0.25,
    max_open_positions=2,
    min_order_value=10.0,
    fee_rate=0.001,
    slippage_rate=0.0005,
)
FLAT = PortfolioView(equity=10_000.0, cash=10_000.0, positions={})


def buy(pair="BTC/USDT", price=100.0, atr=1.0) -> OrderIntent:
    return OrderIntent(pair, "buy", price, f"id-{pair}", "signal", atr=atr)


def position(pair: str) -> OpenPosition:
    return OpenPosition(pair, 1.0, 100.0, 0.1, 98.0, 103.0)


def test_size_risks_the_configured_fraction_of_equity_at_the_stop():
    approved = RiskGate(LIMITS).approve(buy(price=100.0, atr=1.0), FLAT)
    # 1% of 10,000 = 100 at risk over a 2.0 stop distance: 50 units, capped by 25% of equity.
    cap = 10_000 * 0.25 / (100 * 1.0005 * 1.001)
    assert approved.amount == pytest.approx(min(50.0, cap))
    assert approved.stop_loss == pytest.approx(98.0)
    assert approved.take_profit == pytest.approx(103.0)
    assert approved.approved


def test_wide_stop_gives_a_small_position():
    approved = RiskGate(LIMITS).approve(buy(price=100.0, atr=10.0), FLAT)
    assert approved.amount == pytest.approx(100.0 / 20.0)
    loss_at_stop = approved.amount * (approved.price - approved.stop_loss)
    assert loss_at_stop == pytest.approx(10_000 * 0.01)


def test_position_never_exceeds_max_fraction_or_cash():
    poor = PortfolioView(equity=10_000.0, cash=300.0, positions={"ETH/USDT": position("ETH/USDT")})
    approved = RiskGate(LIMITS).approve(buy(price=100.0, atr=0.01), poor)
    assert approved.amount * 100.0 * 1.0005 * 1.001 <= 300.0 + 1e-9


def test_quote_locked_by_the_owner_caps_the_buy_but_is_no_exposure_of_volts():
    shared = PortfolioView(equity=1_000.0, cash=1_000.0, positions={}, spendable=300.0)
    limits = replace(LIMITS, max_total_exposure=0.6)
    approved = RiskGate(limits).approve(buy(price=100.0, atr=0.01), shared)
    value = approved.amount * 100.0 * 1.0005 * 1.001
    assert 240.0 <= value <= 300.0  # the 25 % position cap, within the free 300


def test_max_open_positions_rejects_with_a_reason():
    full = PortfolioView(10_000.0, 5_000.0, {p: position(p) for p in ("ETH/USDT", "SOL/USDT")})
    with pytest.raises(RiskRejection, match=r"max open positions reached \(2 of 2\)"):
        RiskGate(LIMITS).approve(buy(), full)


def test_no_adding_to_an_open_position():
    book = PortfolioView(10_000.0, 9_000.0, {"BTC/USDT": position("BTC/USDT")})
    with pytest.raises(RiskRejection, match="already open"):
        RiskGate(LIMITS).approve(buy(), book)


def test_order_below_minimum_value_is_rejected():
    broke = PortfolioView(equity=10_000.0, cash=5.0, positions={})
    with pytest.raises(RiskRejection, match="below the minimum 10.00"):
        RiskGate(LIMITS).approve(buy(), broke)


def test_no_atr_means_no_entry():
    with pytest.raises(RiskRejection, match="no ATR yet"):
        RiskGate(LIMITS).approve(buy(atr=math.nan), FLAT)


def test_exits_are_always_allowed_and_sell_the_whole_position():
    full = PortfolioView(10_000.0, 0.0, {p: position(p) for p in ("BTC/USDT", "ETH/USDT")})
    approved = RiskGate(LIMITS).approve(
        OrderIntent("BTC/USDT", "sell", 90.0, "x", "stop_loss"), full
    )
    assert approved.side == "sell" and approved.amount == 1.0


def test_selling_without_a_position_is_rejected():
    with pytest.raises(RiskRejection, match="no open position"):
        RiskGate(LIMITS).approve(OrderIntent("BTC/USDT", "sell", 90.0, "x", "signal"), FLAT)


def test_broker_refuses_an_order_that_did_not_pass_the_gate(volt_home):
    forged = ApprovedOrder("BTC/USDT", "buy", 1.0, 100.0, "forged", "signal")
    broker = PaperExchange(make_exchange_factory(), "USDT", 10_000.0, 0.001, 0.0005)
    with pytest.raises(PermissionError, match="did not pass the risk gate"):
        broker.submit(forged, datetime.now(UTC))
    assert broker.orders() == []


@pytest.mark.parametrize("price", [0.1, 1.1, 3.3, 7.7, 99.99, 1234.5678, 60_000.01])
@pytest.mark.parametrize("capital", [1_000.0, 9_999.99, 10_000.0, 123_456.78])
def test_sizing_to_the_last_of_the_cash_never_trips_the_broker(tmp_path, price, capital):
    exchange = make_exchange_factory(f"sqlite:///{tmp_path / 'exchange.db'}")
    broker = PaperExchange(exchange, "USDT", capital, 0.001, 0.0005)
    gate = RiskGate(replace(LIMITS, max_position_fraction=1.0, risk_per_trade=0.1))
    book = PortfolioView(equity=capital, cash=capital, positions={})
    # A tiny ATR makes the cash, not the risk budget, the binding limit.
    intent = OrderIntent("X/USDT", "buy", price, "id-x", "signal", atr=price * 0.001)
    approved = gate.approve(intent, book)
    broker.submit(approved, datetime.now(UTC))  # must not raise InsufficientFunds
    assert 0 <= broker.cash() < capital * 0.001


@pytest.mark.parametrize("atr", [0.5, 2.0, 5.0])
def test_a_tightened_regime_stop_never_buys_more_than_the_normal_one(atr):
    limits = replace(LIMITS, regime_stop_scale={"high_volatility": 0.75, "crash": 0.5})
    gate = RiskGate(limits)

    def entry(regime):
        intent = OrderIntent("BTC/USDT", "buy", 100.0, "b", "signal", atr=atr, regime=regime)
        return gate.approve(intent, FLAT)

    normal = entry("normal")
    for regime in ("high_volatility", "crash"):
        wild = entry(regime)
        assert wild.amount <= normal.amount + 1e-12
        assert wild.stop_loss > normal.stop_loss  # the stop itself is still tightened
    # At the normal stop distance, the risk is the configured fraction, whatever the regime.
    if normal.amount * 100.0 < 10_000 * 0.25 * 0.99:  # not capped by the position limit
        assert entry("crash").amount * 2.0 * atr == pytest.approx(10_000 * 0.01)


def test_a_widened_regime_stop_sizes_from_its_own_wider_distance():
    gate = RiskGate(replace(LIMITS, regime_stop_scale={"crash": 1.5}))
    intent = OrderIntent("BTC/USDT", "buy", 100.0, "b", "signal", atr=5.0, regime="crash")
    approved = gate.approve(intent, FLAT)
    assert approved.amount * (100.0 - approved.stop_loss) == pytest.approx(10_000 * 0.01)
