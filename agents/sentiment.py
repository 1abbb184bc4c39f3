"""Sentiment agent, offline proxy: the crowd's mood read from momentum and volume surges.

Rising prices on heavy volume read as greed, falling ones as fear; on thin volume the
reading counts for less. The vote is contrarian at the extremes, as with a fear-and-greed
index: buy when the crowd is fearful, sell when it is greedy. With too little history it
abstains rather than pretend to be neutral.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from agents.base import ColumnAgent
from data.market.periods import DEFAULT_PERIODS
from data.market.rows import EVERY_ROW, EveryRow
from data.market.trailing import log_returns

MOMENTUM_WINDOW = DEFAULT_PERIODS.momentum  # candles; config [indicators] may set another
BASELINE_WINDOW = 48  # candles for the volume and volatility baselines (fixed)
ACTION_THRESHOLD = 0.25


class SentimentAgent(ColumnAgent):
    name = "sentiment"

    def __init__(self, momentum_window: int = MOMENTUM_WINDOW) -> None:
        self.momentum_window = momentum_window  # candles the mood's price move spans

    def warmup(self, window: int) -> int:
        """Candles before its vote is warm: the momentum lag and the baselines' returns."""
        return max(self.momentum_window, BASELINE_WINDOW) + 1

    def vote_columns(
        self, candles: Mapping[str, ArrayLike], rows: EveryRow = EVERY_ROW
    ) -> dict[str, np.ndarray]:
        close = np.asarray(candles["close"], dtype=float)
        volume = np.asarray(candles["volume"], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            momentum = np.log(rows.now(close) / rows.lag(close, self.momentum_window))
        returns = log_returns(close)
        spread = rows.rolling_std(returns, BASELINE_WINDOW) * np.sqrt(self.momentum_window)
        usual_volume = rows.rolling_median(volume, BASELINE_WINDOW)
        with np.errstate(divide="ignore", invalid="ignore"):
            momentum_z = momentum / spread
            surge = rows.now(volume) / usual_volume
        weight = np.clip(surge / 1.5, 0.3, 1.0)
        score = np.tanh(momentum_z / 2.0) * weight
        # Contrarian: fear (a negative mood) is a buying opportunity, greed a time to sell.
        direction = np.where(
            score <= -ACTION_THRESHOLD, 1, np.where(score >= ACTION_THRESHOLD, -1, 0)
        )
        return {
            "direction": direction,
            "confidence": np.abs(score),
            "momentum_z": momentum_z,
            "volume_surge": surge,
            "mood": score,
        }

    def rationale(self, row: Mapping[str, float]) -> str:
        """Names the momentum lag and the baselines' window it read."""
        mood = row["mood"]
        if mood >= ACTION_THRESHOLD:
            word = "greedy: time to take profits"
        elif mood <= -ACTION_THRESHOLD:
            word = "fearful: a contrarian buy"
        else:
            word = "calm"
        return (
            f"crowd {word} (mood {mood:+.2f}, acting from {ACTION_THRESHOLD:g}): "
            f"{self.momentum_window}-candle momentum {row['momentum_z']:+.2f} sigma of "
            f"{BASELINE_WINDOW}-candle volatility on {row['volume_surge']:.2f}x the "
            f"{BASELINE_WINDOW}-candle median volume (offline proxy from market data)"
        )
