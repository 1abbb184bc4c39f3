"""A run's statistics from its equity curve and trades: small vectorised functions, each figure
a line or two (after backtesting.py's `_stats`). Crypto trades every day: 365-day years.

Annualised figures (return, volatility, Sharpe, Sortino) are computed for every span, but
`honest` blanks them below MIN_ANNUALISE_DAYS: compounding four days to a year raised a
-1.04 % run to -59.98 %, and a Sharpe ratio's standard error is about sqrt(365 / days)
(Lo 2002), already 3.5 at 30 days. Walk-forward tunes on the raw figures; people see
`honest` ones.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from data.stats.backtest_labels import ANNUALISED_KEYS, MIN_ANNUALISE_DAYS

SECONDS_PER_YEAR = 365 * 86_400


def curve_stats(equity: np.ndarray, step_seconds: int) -> dict[str, float]:
    """Return, annualised return and volatility, Sharpe, Sortino, max drawdown and its
    duration, from a curve holding one value per candle close (the first: before it)."""
    equity = np.asarray(equity, dtype=float)
    start, final = float(equity[0]), float(equity[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.nan_to_num(np.diff(equity) / equity[:-1])  # a wiped-out account: 0
    periods = len(returns)
    per_year = SECONDS_PER_YEAR / step_seconds
    years = periods / per_year
    growth = final / start
    annual_return = growth ** (1 / years) - 1 if years > 0 and growth > 0 else math.nan
    volatility = float(np.std(returns, ddof=1)) * math.sqrt(per_year) if periods > 1 else 0.0
    mean_return = float(np.mean(returns)) * per_year if periods else 0.0
    downside = (
        math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)) * per_year) if periods else 0.0
    )
    peaks = np.maximum.accumulate(equity)
    return {
        "return_pct": (growth - 1) * 100,
        "annual_return_pct": annual_return * 100,
        "annual_volatility_pct": volatility * 100,
        "sharpe": mean_return / volatility if volatility > 0 else math.nan,
        "sortino": mean_return / downside if downside > 0 else math.nan,
        "max_drawdown_pct": float((equity / peaks - 1.0).min()) * 100,
        "max_drawdown_days": drawdown_periods(equity, peaks) * step_seconds / 86_400,
    }


def drawdown_periods(equity: np.ndarray, peaks: np.ndarray | None = None) -> int:
    """The longest stretch from a peak to the candle that regains it (or to the last candle,
    when the curve never does), in candles."""
    peaks = np.maximum.accumulate(equity) if peaks is None else peaks
    under = equity < peaks
    if not under.any():
        return 0
    rows = np.arange(len(equity))
    last_peak = np.maximum.accumulate(np.where(under, 0, rows))
    ends = np.flatnonzero(under & ~np.append(under[1:], False))  # last candle under water
    regained = np.minimum(ends + 1, len(equity) - 1)
    return int((regained - last_peak[ends]).max())


def trade_stats(pnls: np.ndarray, pnl_pcts: np.ndarray, hours: np.ndarray) -> dict[str, float]:
    """Per-trade figures: `pnls` in the quote currency, `pnl_pcts` as fractions of the cost,
    `hours` each trade's time held."""
    pnls = np.asarray(pnls, dtype=float)
    pcts = np.asarray(pnl_pcts, dtype=float) * 100
    wins, losses = pnls[pnls > 0], pnls[pnls < 0]
    some = len(pnls) > 0
    return {
        "trades": int(len(pnls)),
        "win_rate_pct": len(wins) / len(pnls) * 100 if some else math.nan,
        "profit_factor": float(wins.sum() / -losses.sum()) if len(losses) else math.nan,
        "expectancy": float(pnls.mean()) if some else math.nan,  # mean P&L a trade
        "avg_trade_pct": float(pcts.mean()) if some else math.nan,
        "best_trade_pct": float(pcts.max()) if some else math.nan,
        "worst_trade_pct": float(pcts.min()) if some else math.nan,
        "avg_trade_hours": float(np.mean(hours)) if some else math.nan,
    }


def run_stats(
    equity: np.ndarray,
    pnls: np.ndarray,
    fees: float,
    exposed: np.ndarray,
    buy_and_hold: np.ndarray,
    step_seconds: int,
    pnl_pcts: np.ndarray | None = None,
    hours: np.ndarray | None = None,
) -> dict[str, float]:
    """`equity` and `buy_and_hold` hold one value per decided candle, starting before the
    first decision; `pnls` (and `pnl_pcts`, `hours`) one per closed trade; `exposed` whether
    any position was open."""
    empty = np.zeros(len(pnls))
    held = curve_stats(buy_and_hold, step_seconds)
    periods = len(equity) - 1
    return {
        **curve_stats(equity, step_seconds),
        **trade_stats(
            pnls, empty if pnl_pcts is None else pnl_pcts, empty if hours is None else hours
        ),
        "exposure_pct": float(np.mean(exposed)) * 100 if len(exposed) else 0.0,
        "fees_paid": float(fees),
        "final_equity": float(equity[-1]),
        "buy_and_hold_pct": held["return_pct"],
        "buy_and_hold_annual_return_pct": held["annual_return_pct"],
        "buy_and_hold_annual_volatility_pct": held["annual_volatility_pct"],
        "buy_and_hold_sharpe": held["sharpe"],
        "buy_and_hold_sortino": held["sortino"],
        "buy_and_hold_max_drawdown_pct": held["max_drawdown_pct"],
        "buy_and_hold_max_drawdown_days": held["max_drawdown_days"],
        "candles": periods,
        "span_days": periods * step_seconds / 86_400,
    }


def honest(stats: dict[str, float]) -> dict[str, float]:
    """The figures as shown and stored: annualised ones blanked (NaN) below
    MIN_ANNUALISE_DAYS, `annualised` saying whether they were kept."""
    shown = dict(stats)
    long_enough = stats.get("span_days", 0.0) >= MIN_ANNUALISE_DAYS
    shown["annualised"] = long_enough
    if not long_enough:
        shown.update(dict.fromkeys((k for k in ANNUALISED_KEYS if k in stats), math.nan))
    return shown


def monthly_returns(equity: pd.Series) -> dict[str, float]:
    """Each calendar month's return in percent ("2026-01": 1.5), from the curve's value at
    the end of the month before (the starting value, for the first month decided)."""
    month_ends = equity.iloc[1:].resample("ME").last().dropna()
    before = np.concatenate([[float(equity.iloc[0])], month_ends.to_numpy()[:-1]])
    changes = (month_ends.to_numpy() / before - 1) * 100
    return {f"{ts:%Y-%m}": float(v) for ts, v in zip(month_ends.index, changes, strict=True)}
