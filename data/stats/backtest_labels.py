"""How a backtest's figures are named and written wherever they are shown: the CLI, the page
and the exported report, so each says the same thing in the same words."""

from __future__ import annotations

import math

SPAN_TOO_SHORT = "n/a (span too short)"
# Shorter spans show no annualised figure (why: engine/backtest/stats.py).
MIN_ANNUALISE_DAYS = 30.0

STAT_LABELS = {
    "return_pct": "Return [%]",
    "annual_return_pct": "Return (ann.) [%]",
    "annual_volatility_pct": "Volatility (ann.) [%]",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown_pct": "Max drawdown [%]",
    "max_drawdown_days": "Max drawdown duration [days]",
    "exposure_pct": "Exposure time [%]",
    "trades": "Trades",
    "win_rate_pct": "Win rate [%]",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy [quote a trade]",
    "avg_trade_pct": "Avg trade [%]",
    "best_trade_pct": "Best trade [%]",
    "worst_trade_pct": "Worst trade [%]",
    "avg_trade_hours": "Avg trade duration [h]",
    "fees_paid": "Fees paid",
    "final_equity": "Final equity",
    "buy_and_hold_pct": "Buy & hold [%]",
    "chance_p_value": "Chance baseline p",
    "candles": "Candles",
}

# The same figure for buy-and-hold over the same span, shown beside the strategy's.
BUY_AND_HOLD_KEYS = {
    "return_pct": "buy_and_hold_pct",
    "annual_return_pct": "buy_and_hold_annual_return_pct",
    "annual_volatility_pct": "buy_and_hold_annual_volatility_pct",
    "sharpe": "buy_and_hold_sharpe",
    "sortino": "buy_and_hold_sortino",
    "max_drawdown_pct": "buy_and_hold_max_drawdown_pct",
    "max_drawdown_days": "buy_and_hold_max_drawdown_days",
}

ANNUALISED_KEYS = {
    "annual_return_pct",
    "annual_volatility_pct",
    "sharpe",
    "sortino",
    "buy_and_hold_annual_return_pct",
    "buy_and_hold_annual_volatility_pct",
    "buy_and_hold_sharpe",
    "buy_and_hold_sortino",
}

PAIR_LABELS = {
    "return_pct": "Return [%]",
    "buy_and_hold_pct": "Buy & hold [%]",
    "sharpe": "Sharpe",
    "buy_and_hold_sharpe": "B&H Sharpe",
    "max_drawdown_pct": "Max DD [%]",
    "buy_and_hold_max_drawdown_pct": "B&H max DD [%]",
    "trades": "Trades",
    "win_rate_pct": "Win rate [%]",
    "expectancy": "Expectancy",
    "avg_trade_pct": "Avg trade [%]",
    "fees_paid": "Fees",
    "exposure_pct": "Exposure [%]",
    "chance_p_value": "Chance p",
}

_WHOLE = {"trades", "candles"}


def stat_text(key: str, value, annualised: bool = True) -> str:
    """One figure as text: annualised ones on a short span say so, missing ones are a dash."""
    if key in ANNUALISED_KEYS and not annualised:
        return SPAN_TOO_SHORT
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if key in _WHOLE:
        return f"{value:,.0f}"
    if key.endswith("p_value"):
        return f"{value:.3f}"
    if key.endswith("_days") or key.endswith("_hours"):
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def baseline_sentence(baseline: dict | None) -> str:
    """The chance baseline in one plain line, e.g. "Chance baseline: 37 % of 200
    random-entry runs did as well (p = 0.37) — no evidence the timing beats chance"."""
    if not baseline or not baseline.get("trades"):
        return "Chance baseline: no trades, so no timing to judge"
    draws, p = baseline["draws"], baseline["p_value"]
    share = baseline["as_good"] / draws * 100
    runs = "random-entry runs" if baseline["method"] == "random entries" else "shifted-signal runs"
    if p < 0.01:
        verdict = "strong evidence the timing beats chance"
    elif p < 0.05:
        verdict = "some evidence the timing beats chance"
    elif p < 0.1:
        verdict = "weak evidence at most that the timing beats chance"
    elif share >= 95:
        verdict = "the timing did worse than almost every random run"
    else:
        verdict = "no evidence the timing beats chance"
    name = "Chance baseline" if baseline["method"] == "random entries" else "Shifted signals"
    return f"{name}: {share:.0f} % of {draws} {runs} did as well (p = {p:.3f}) — {verdict}"
