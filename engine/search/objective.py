"""What a trial is scored on, after costs at the configured fills: one number per window,
higher is better. A window with no trades scores as a flat account does (0), not as NaN."""

from __future__ import annotations

import math


def objective_value(name: str, stats: dict[str, float]) -> float:
    if name == "return_over_drawdown":
        drawdown = abs(stats["max_drawdown_pct"])
        value = stats["return_pct"] / drawdown if drawdown > 0 else stats["return_pct"]
    else:
        value = stats[name]
    return float(value) if math.isfinite(value) else 0.0
