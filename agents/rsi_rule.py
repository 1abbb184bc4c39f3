"""The textbook RSI rule as a vectorised agent: buy below 30, sell above 70.

Not on VOLT's team: it is the yardstick that benches and the parity test run through the
same pipeline as the team, to compare with other backtesters on identical rules.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from agents.base import ColumnAgent
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.market.rows import EVERY_ROW, EveryRow

OVERSOLD, OVERBOUGHT = 30.0, 70.0


class RsiRule(ColumnAgent):
    name = "rsi_rule"

    def __init__(self, periods: IndicatorPeriods = DEFAULT_PERIODS) -> None:
        self.periods = periods  # the length its `rsi` column was computed with

    def vote_columns(
        self, candles: Mapping[str, ArrayLike], rows: EveryRow = EVERY_ROW
    ) -> dict[str, np.ndarray]:
        """Elementwise on the indicators: the same for every row or the last (`rows`)."""
        rsi = np.asarray(candles["rsi"], dtype=float)
        direction = np.where(rsi < OVERSOLD, 1, np.where(rsi > OVERBOUGHT, -1, 0))
        confidence = np.where(np.isnan(rsi), np.nan, 1.0)
        return {"direction": direction, "confidence": confidence, "rsi": rsi}

    def rationale(self, row: Mapping[str, float]) -> str:
        rsi = f"RSI({self.periods.rsi}) {row['rsi']:.1f}"
        return f"{rsi} (buy below {OVERSOLD:g}, sell above {OVERBOUGHT:g})"
