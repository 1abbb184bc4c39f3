"""No entry whose take-profit fails to clear the round trip's costs by the configured margin;
the learning break-even counts those costs too."""

from dataclasses import replace

import pytest

from config import Settings
from data.types import PortfolioView
from engine.wiring import build_gate, learning_breakeven
from risk import OrderIntent, RiskGate, RiskLimits, RiskRejection
from risk.costs import breakeven_accuracy, round_trip_cost, target_shortfall
from risk.gate import TARGET_UNDER_COSTS

# 0.1 % fee and 0.05 % slippage a side: a 0.30 % round trip, so a 0.90 % target at least.
LIMITS = RiskLimits(
    risk_per_trade=0.01,
    stop_atr_multiple=2.0,
    take_profit_atr_multiple=3.0,
    max_position_fraction=0.25,
    max_open_positions=3,
    min_order_value=10.0,
    fee_rate=0.001,
    slippage_rate=0.0005,
    min_target_to_cost=3.0,
)
FLAT = PortfolioView(equity=10_000.0, cash=10_000.0, positions={})


def buy(atr: float, price: float = 100.0, regime: str = "normal") -> OrderIntent:
    return OrderIntent("BTC/USDT", "buy", price, "id", "signal", atr=atr, regime=regime)


def test_round_trip_cost_is_fee_and_slippage_on_both_sides():
    assert round_trip_cost(0.001, 0.0005) == pytest.approx(0.003)


def test_a_target_under_three_round_trips_is_refused_with_the_figures():
    # 3 ATR of 0.1033 on 100: a 0.31 % target against a 0.30 % round trip.
    with pytest.raises(RiskRejection) as refused:
        RiskGate(LIMITS).approve(buy(atr=0.1033), FLAT)
    message = str(refused.value)
    assert message.startswith(
        "BTC/USDT: take-profit 0.31 % is under 3 × the 0.30 % round-trip cost (0.90 %)"
    )
    assert refused.value.rule == TARGET_UNDER_COSTS
    assert not refused.value.blocks  # a rule of the entry, not a protection's lock


def test_a_target_that_clears_three_round_trips_passes():
    approved = RiskGate(LIMITS).approve(buy(atr=0.30), FLAT)  # 0.90 % exactly
    assert approved.approved
    assert approved.take_profit / approved.price - 1 >= 3 * 0.003 - 1e-12


def test_the_rule_measures_the_target_the_regime_scaled():
    gate = RiskGate(replace(LIMITS, regime_stop_scale={"crash": 0.5}))
    assert gate.approve(buy(atr=0.40), FLAT).approved  # 1.2 % target in a normal market
    with pytest.raises(RiskRejection, match="take-profit 0.60 % is under"):
        gate.approve(buy(atr=0.40, regime="crash"), FLAT)  # halved: 0.6 %


def test_no_costs_means_no_cost_refusal():
    free = replace(LIMITS, fee_rate=0.0, slippage_rate=0.0)
    assert RiskGate(free).approve(buy(atr=0.001), FLAT).approved


def test_a_margin_of_zero_switches_the_rule_off():
    assert RiskGate(replace(LIMITS, min_target_to_cost=0.0)).approve(buy(atr=0.05), FLAT).approved


def test_without_a_take_profit_the_stop_distance_must_clear_the_margin():
    assert "no take-profit, so the stop distance 0.50 % is under" in target_shortfall(
        100.0, float("inf"), 99.5, 0.003, 3.0
    )
    assert target_shortfall(100.0, float("inf"), 99.0, 0.003, 3.0) is None


def test_exits_are_never_refused_for_costs():
    from data.types import OpenPosition

    held = OpenPosition("BTC/USDT", 1.0, 100.0, 0.1, 99.9, 100.1)
    book = PortfolioView(10_000.0, 9_900.0, {"BTC/USDT": held})
    sell = OrderIntent("BTC/USDT", "sell", 100.05, "id-s", "signal")
    assert RiskGate(LIMITS).approve(sell, book).approved


def test_the_configured_gate_applies_the_default_margin_of_three():
    gate = build_gate(Settings())
    assert gate.limits.min_target_to_cost == 3.0
    assert gate.limits.round_trip_cost == pytest.approx(0.003)
    with pytest.raises(RiskRejection, match=r"under 3 × the 0\.30 % round-trip cost"):
        gate.approve(buy(atr=0.1), FLAT)


def test_the_margin_below_one_is_refused_by_the_settings():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="min_target_to_cost"):
        Settings.model_validate({"risk": {"min_target_to_cost": 0.5}})


def test_break_even_without_costs_is_stop_over_stop_plus_target():
    assert breakeven_accuracy(2.0, 3.0, cost=0.0, margin=3.0) == pytest.approx(0.4)


def test_break_even_with_costs_is_that_of_the_dearest_entry_the_gate_admits():
    # The cost may reach a third of the 3 ATR target (1 ATR): a win nets 2, a loss costs 3.
    assert breakeven_accuracy(2.0, 3.0, cost=0.003, margin=3.0) == pytest.approx(3 / 5)
    assert breakeven_accuracy(2.0, 3.0, cost=0.003, margin=6.0) == pytest.approx(2.5 / 5)


def test_the_trader_learns_against_the_break_even_after_costs():
    assert learning_breakeven(Settings()) == pytest.approx(0.6)
    free = Settings.model_validate({"broker": {"fee_rate": 0.0, "slippage_rate": 0.0}})
    assert learning_breakeven(free) == pytest.approx(0.4)
