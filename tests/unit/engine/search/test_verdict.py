"""The search's advice: keep the defaults unless the chosen trial beats them out of sample,
traded there, and survives the deflated Sharpe ratio."""

from types import SimpleNamespace

import pytest

from engine.search.overfitting import Overfitting
from engine.search.verdict import HeldOut, Outcome


def held(name: str, objective: float, trades: int) -> HeldOut:
    stats = {
        "return_pct": objective,
        "sharpe": objective,
        "max_drawdown_pct": -1.0,
        "trades": trades,
        "buy_and_hold_pct": 2.0,
        "buy_and_hold_sharpe": 1.0,
    }
    return HeldOut(name, SimpleNamespace(stats=stats), objective, 0.05)


def outcome(chosen: HeldOut, defaults: HeldOut, overfit: bool = False, **extra) -> Outcome:
    fit = Overfitting("deflated Sharpe ratio", 0.5 if overfit else 0.99, 50, 0.01, overfit)
    beats = chosen.result.stats["trades"] > 0 and chosen.objective > defaults.objective
    return Outcome(
        "sharpe", 50, 7, {"risk.stop_atr_multiple": 3.0}, chosen, defaults, fit, beats, **extra
    )


def test_a_chosen_trial_that_beats_the_defaults_and_survives_deflation_is_recommended():
    advice = outcome(held("chosen", 1.5, 12), held("defaults", 0.5, 10)).advice
    assert advice.startswith("the best trial beats the configured defaults' Sharpe ratio")


def test_a_chosen_trial_that_loses_to_the_defaults_says_keep_them():
    advice = outcome(held("chosen", 0.2, 12), held("defaults", 0.5, 10)).advice
    assert "does NOT beat" in advice and advice.endswith("keep the defaults")


def test_beating_the_defaults_inside_the_luck_of_the_trials_says_keep_them():
    advice = outcome(held("chosen", 1.5, 12), held("defaults", 0.5, 10), overfit=True).advice
    assert "luck of 50 trials" in advice and advice.endswith("keep the defaults")


def test_a_chosen_trial_with_no_held_out_trade_is_no_evidence():
    result = outcome(held("chosen", 0.0, 0), held("defaults", -2.0, 4))
    assert not result.beats_defaults
    assert "no trade on the held-out window" in result.advice


def test_a_search_where_no_trial_traded_enough_says_so():
    result = outcome(held("chosen", 1.0, 5), held("defaults", 0.5, 5), starved=True, min_trades=40)
    assert result.advice.startswith("no trial made the 40 in-sample trades asked")


@pytest.mark.parametrize("trades", [0, 3])
def test_the_verdict_names_the_trades_behind_both_figures(trades):
    result = outcome(held("chosen", 1.5, trades), held("defaults", 0.5, 10))
    assert result.verdict.endswith(f"(held-out trades: chosen {trades}, defaults 10)")
