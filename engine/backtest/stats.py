"""A run's statistics from its equity curve and trades: one vectorised function, each figure a
line or two (after backtesting.py's `_stats`). Crypto trades every day: 365-day years."""

from __future__ import annotations

import math

import numpy as np

from data.stats.backtest_labels import STAT_LABELS

SECONDS_PER_YEAR = 365 * 86_400


def run_stats(
    equity: np.ndarray,
    pnls: np.ndarray,
    fees: float,
    exposed: np.ndarray,
    buy_and_hold: np.ndarray,
    step_seconds: int,
) -> dict[str, float]:
    """`equity` and `buy_and_hold` hold one value per decided candle, starting before the
    first decision; `pnls` one per closed trade; `exposed` whether any position was open."""
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
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    wins, losses = pnls[pnls > 0], pnls[pnls < 0]
    return {
        "return_pct": (growth - 1) * 100,
        "annual_return_pct": annual_return * 100,
        "annual_volatility_pct": volatility * 100,
        "sharpe": mean_return / volatility if volatility > 0 else math.nan,
        "sortino": mean_return / downside if downside > 0 else math.nan,
        "max_drawdown_pct": float(drawdown.min()) * 100,
        "win_rate_pct": len(wins) / len(pnls) * 100 if len(pnls) else math.nan,
        "profit_factor": float(wins.sum() / -losses.sum()) if len(losses) else math.nan,
        "trades": int(len(pnls)),
        "exposure_pct": float(np.mean(exposed)) * 100 if len(exposed) else 0.0,
        "fees_paid": float(fees),
        "final_equity": final,
        "buy_and_hold_pct": (float(buy_and_hold[-1] / buy_and_hold[0]) - 1) * 100,
        "candles": periods,
    }


def format_stats(stats: dict[str, float]) -> str:
    width = max(len(label) for label in STAT_LABELS.values())
    lines = []
    for key, label in STAT_LABELS.items():
        value = stats.get(key, math.nan)
        text = f"{value:,.0f}" if key in ("trades", "candles") else f"{value:,.2f}"
        lines.append(f"{label:<{width}}  {text}")
    return "\n".join(lines)
