"""Technical agent: mean reversion on RSI and Bollinger %B, confirmed by MACD momentum."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from agents.base import ColumnAgent
from data.market.indicators import ATR_WINDOW, indicator_warmup
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.market.rows import EVERY_ROW, MACD_FAST, MACD_SIGNAL, MACD_SLOW, EveryRow

# Score = weighted blend of three signals in [-1, 1]; positive favours buying.
RSI_WEIGHT, BAND_WEIGHT, MACD_WEIGHT = 0.4, 0.4, 0.2
ACTION_THRESHOLD = 0.2  # below this |score| the agent says HOLD
MACD_LENGTHS = f"{MACD_FAST},{MACD_SLOW},{MACD_SIGNAL}"  # fixed, unlike RSI's and the bands'


class TechnicalAgent(ColumnAgent):
    name = "technical"

    def __init__(self, periods: IndicatorPeriods = DEFAULT_PERIODS) -> None:
        self.periods = periods  # the lengths its indicator columns were computed with

    def warmup(self, window: int) -> int:
        """Candles before its vote is warm: every indicator it blends."""
        return indicator_warmup(self.periods)

    def vote_columns(
        self, candles: Mapping[str, ArrayLike], rows: EveryRow = EVERY_ROW
    ) -> dict[str, np.ndarray]:
        """Elementwise on the indicators: the same for every row or the last (`rows`)."""
        rsi = np.asarray(candles["rsi"], dtype=float)
        band_pct = np.asarray(candles["bb_pct"], dtype=float)
        macd_hist = np.asarray(candles["macd_hist"], dtype=float)
        atr = np.asarray(candles["atr"], dtype=float)

        rsi_signal = np.clip((50.0 - rsi) / 25.0, -1.0, 1.0)
        band_signal = np.clip(1.0 - 2.0 * band_pct, -1.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            macd_signal = np.clip(macd_hist / (0.5 * atr), -1.0, 1.0)
        score = RSI_WEIGHT * rsi_signal + BAND_WEIGHT * band_signal + MACD_WEIGHT * macd_signal

        direction = np.where(
            score >= ACTION_THRESHOLD, 1, np.where(score <= -ACTION_THRESHOLD, -1, 0)
        )
        return {
            "direction": direction,
            "confidence": np.minimum(np.abs(score), 1.0),
            "score": score,
            "rsi": rsi,
            "bb_pct": band_pct,
            "macd_hist": macd_hist,
            "atr": atr,
        }

    def rationale(self, row: Mapping[str, float]) -> str:
        """Names the lengths the indicator columns were computed with and the numbers read."""
        rsi, band_pct, hist = row["rsi"], row["bb_pct"], row["macd_hist"]
        rsi_text = "oversold" if rsi < 30 else "overbought" if rsi > 70 else "neutral"
        bands = f"{self.periods.bollinger}-candle Bollinger bands"
        band_text = (
            f"below the lower of the {bands} (%B {band_pct:.2f})"
            if band_pct < 0
            else f"above the upper of the {bands} (%B {band_pct:.2f})"
            if band_pct > 1
            else f"{band_pct:.0%} of the way up the {bands}"
        )
        momentum = "rising" if hist > 0 else "falling"
        return (
            f"RSI({self.periods.rsi}) {rsi:.1f} ({rsi_text}); price {band_text}; "
            f"MACD({MACD_LENGTHS}) momentum {momentum} (histogram {hist:+.4g}, "
            f"ATR({ATR_WINDOW}) {row['atr']:.4g}); score {row['score']:+.2f}"
        )
