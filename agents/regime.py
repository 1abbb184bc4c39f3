"""Market regime agent: trend or range, and whether the market is calm, wild or crashing.

The regime also sets how sure the team must be before acting (DESIGN: consensus).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from agents.base import ColumnAgent
from data.market.indicators import ATR_WINDOW
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.market.rows import EVERY_ROW, EveryRow
from data.market.trailing import log_returns, trailing_ewm

NORMAL, HIGH_VOLATILITY, CRASH = "normal", "high_volatility", "crash"
REGIMES = (NORMAL, HIGH_VOLATILITY, CRASH)
_REGIME_CODE = {NORMAL: 0, HIGH_VOLATILITY: 1, CRASH: 2}
# The EMAs whose gap, in ATRs, is the trend: the defaults of config [indicators].
TREND_FAST_SPAN, TREND_SLOW_SPAN = DEFAULT_PERIODS.trend_fast, DEFAULT_PERIODS.trend_slow


@dataclass(frozen=True)
class RegimeLimits:
    trend_threshold: float = 2.0  # |fast EMA - slow EMA| in ATRs that counts as a trend
    high_volatility_ratio: float = 1.8  # short / long realised volatility
    crash_drop: float = 0.05  # fall over the crash window that counts as a crash
    crash_window: int = 12  # candles
    short_window: int = 24
    long_window: int = 240


def classify(
    candles: pd.DataFrame,
    limits: RegimeLimits,
    window: int | None = None,
    periods: IndicatorPeriods = DEFAULT_PERIODS,
) -> pd.DataFrame:
    """Regime columns for every row: trend strength, volatility ratio, drop, regime.

    With `window`, each row reads as the live loop's trailing window of that many candles
    would (a backtest over the whole history); without, the frame is the window. The trend
    EMAs' spans are `periods.trend_fast` and `periods.trend_slow`.
    """
    columns = regime_columns(candles, limits, window, periods=periods)
    return pd.DataFrame(columns, index=candles.index)


def regime_columns(
    candles: Mapping[str, ArrayLike],
    limits: RegimeLimits,
    window: int | None = None,
    rows: EveryRow = EVERY_ROW,
    periods: IndicatorPeriods = DEFAULT_PERIODS,
) -> dict[str, np.ndarray]:
    """`classify`'s columns as arrays, from a frame or a mapping of columns (with
    `LAST_ROW`, the candles' columns whole and the indicators' last row)."""
    if window is not None and rows is not EVERY_ROW:
        raise ValueError("a trailing window reads every row (backtests); the last row has none")
    close = np.asarray(candles["close"], dtype=float)
    atr = np.asarray(candles["atr"], dtype=float)
    # The longer trend: a dip inside an uptrend must not read as a downtrend.
    if window is None:
        fast = rows.ewm(close, span=periods.trend_fast)
        slow = rows.ewm(close, span=periods.trend_slow)
    else:
        fast = trailing_ewm(close, window, span=periods.trend_fast)
        slow = trailing_ewm(close, window, span=periods.trend_slow)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = (fast - slow) / atr
    returns = log_returns(close)
    short_vol = rows.rolling_std(returns, limits.short_window)
    # A window holds one return fewer than candles: its first candle has no previous close.
    long_window = limits.long_window if window is None else min(limits.long_window, window - 1)
    long_vol = rows.rolling_std(returns, long_window, min_periods=limits.short_window * 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_ratio = short_vol / long_vol
    drop = rows.now(close) / rows.rolling_max(close, limits.crash_window) - 1.0
    crash = drop <= -limits.crash_drop
    wild = vol_ratio >= limits.high_volatility_ratio
    code = np.where(crash, 2, np.where(wild, 1, 0))
    code = np.where(np.isnan(vol_ratio) | np.isnan(trend), np.nan, code)
    return {"trend_strength": trend, "vol_ratio": vol_ratio, "drop": drop, "regime_code": code}


def regime_warmup(
    limits: RegimeLimits, window: int, periods: IndicatorPeriods = DEFAULT_PERIODS
) -> int:
    """Candles before `classify` reads warm on a trailing `window` of candles: the slow
    EMA's span, the long volatility baseline full (its returns need one candle more), the
    crash window and ATR. Every decision reads the regime, whatever the agent's weight."""
    long_window = min(limits.long_window, window - 1)
    return max(periods.trend_slow, long_window + 1, limits.crash_window, ATR_WINDOW + 1)


def regime_name(code: float) -> str | None:
    return None if np.isnan(code) else REGIMES[int(code)]


class RegimeAgent(ColumnAgent):
    """Votes with the trend, sells into a crash, and stays out of directionless ranges."""

    name = "regime"

    def __init__(
        self,
        limits: RegimeLimits | None = None,
        window: int | None = None,
        periods: IndicatorPeriods = DEFAULT_PERIODS,
    ) -> None:
        self.limits = limits or RegimeLimits()
        self.window = window  # set for backtests: see `classify`
        self.periods = periods

    def warmup(self, window: int) -> int:
        return regime_warmup(self.limits, self.window or window, self.periods)

    def vote_columns(
        self, candles: Mapping[str, ArrayLike], rows: EveryRow = EVERY_ROW
    ) -> dict[str, np.ndarray]:
        columns = regime_columns(candles, self.limits, self.window, rows, self.periods)
        trend, code = columns["trend_strength"], columns["regime_code"]
        trending = np.abs(trend) >= self.limits.trend_threshold
        direction = np.where(trending, np.sign(trend), 0)
        confidence = np.clip(np.abs(trend) / (3 * self.limits.trend_threshold), 0.0, 1.0)
        confidence = np.where(trending, confidence, 0.3)  # a confident "nothing to do"
        # A crash overrides the trend reading: get out, and say so firmly.
        direction = np.where(code == 2, -1, direction)
        confidence = np.where(code == 2, 0.9, confidence)
        confidence = np.where(np.isnan(code), np.nan, confidence)
        columns["direction"] = direction.astype(int)
        columns["confidence"] = confidence
        return columns

    def rationale(self, row: Mapping[str, float]) -> str:
        """Names the EMA spans, the volatility windows and the crash window it compared."""
        regime = regime_name(row["regime_code"])
        trend = row["trend_strength"]
        limits = self.limits
        emas = f"EMA{self.periods.trend_fast} and EMA{self.periods.trend_slow}"
        if abs(trend) >= limits.trend_threshold:
            shape = f"{'up' if trend > 0 else 'down'}trend ({trend:+.1f} ATR between {emas})"
        else:
            shape = (
                f"range ({emas} {trend:+.1f} ATR apart, under the "
                f"{limits.trend_threshold:g} ATR of a trend)"
            )
        return (
            f"{regime.replace('_', ' ')} regime: {shape}; {limits.short_window}-candle "
            f"volatility {row['vol_ratio']:.2f}x its level over up to {limits.long_window} "
            f"candles (wild from {limits.high_volatility_ratio:g}x); {row['drop']:+.1%} from "
            f"the {limits.crash_window}-candle high (a crash from {-limits.crash_drop:.0%})"
        )
