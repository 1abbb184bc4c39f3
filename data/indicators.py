"""The indicator layer: one module, one interface, so the library can be swapped by measurement."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator
from ta.trend import MACD
from ta.volatility import AverageTrueRange, BollingerBands

from data.trailing import decayed_constant, ewm, trailing_ewm

RSI_WINDOW = 14
ATR_WINDOW = 14
BB_WINDOW = 20
BB_DEVIATIONS = 2.0


def add_indicators(candles: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `candles` (open/high/low/close/volume) with indicator columns added.

    Rows still warming up hold NaN, never a misleading 0.
    """
    out = candles.copy()
    close, high, low = out["close"], out["high"], out["low"]
    out["rsi"] = RSIIndicator(close, RSI_WINDOW).rsi()
    macd = MACD(close)
    out["macd"] = macd.macd()
    out["macd_signal"] = macd.macd_signal()
    out["macd_hist"] = macd.macd_diff()
    bands = BollingerBands(close, BB_WINDOW, BB_DEVIATIONS)
    out["bb_upper"] = bands.bollinger_hband()
    out["bb_middle"] = bands.bollinger_mavg()
    out["bb_lower"] = bands.bollinger_lband()
    out["bb_pct"] = bands.bollinger_pband()
    if len(out) > ATR_WINDOW:
        atr = AverageTrueRange(high, low, close, ATR_WINDOW).average_true_range()
        atr.iloc[: ATR_WINDOW - 1] = np.nan  # `ta` pads its warm-up with zeros
    else:
        atr = pd.Series(np.nan, index=out.index)
    out["atr"] = atr
    return out


def add_indicators_over_windows(candles: pd.DataFrame, window: int) -> pd.DataFrame:
    """`add_indicators` for every row as the live loop sees it on its trailing `window`
    candles, in one vectorised pass over the whole history (backtests).

    Same columns and warm-up NaNs; values equal `add_indicators(candles[t-window+1:t+1])`'s
    last row to rounding (tests pin this). ATR is computed here without `ta`'s Python loop.
    """
    out = candles.copy()
    close = out["close"].to_numpy(dtype=float)
    high, low = out["high"].to_numpy(dtype=float), out["low"].to_numpy(dtype=float)
    n, rows = len(out), np.arange(len(out))

    # RSI: Wilder averages of gains and losses; the window's first row has no change (0).
    change = np.diff(close, prepend=np.nan)
    gains = np.where(change > 0, change, 0.0)
    losses = np.where(change < 0, -change, 0.0)
    zeros = np.zeros(n)
    up = trailing_ewm(gains, window, alpha=1 / RSI_WINDOW, first_seen=zeros)
    down = trailing_ewm(losses, window, alpha=1 / RSI_WINDOW, first_seen=zeros)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = np.where(down == 0, 100.0, 100.0 - 100.0 / (1.0 + up / down))
    out["rsi"] = np.where(rows < RSI_WINDOW - 1, np.nan, rsi)

    # MACD (12, 26, 9): the signal averages a line whose own start differs by window.
    fast = trailing_ewm(close, window, span=12)
    slow = trailing_ewm(close, window, span=26)
    macd = np.where(rows < 25, np.nan, fast - slow)
    full_macd = np.where(rows < 25, np.nan, ewm(close, span=12) - ewm(close, span=26))
    signal = trailing_ewm(full_macd, window, span=9, offset=25)
    if window < n:
        last = np.arange(window - 1, n)
        first = last - window + 1
        fast_gap = close[first] - ewm(close, span=12)[first]
        slow_gap = close[first] - ewm(close, span=26)[first]
        signal[last] += fast_gap * decayed_constant(0.2, 11 / 13, window, 25)
        signal[last] -= slow_gap * decayed_constant(0.2, 25 / 27, window, 25)
    signal = np.where(rows < 33, np.nan, signal)
    out["macd"], out["macd_signal"], out["macd_hist"] = macd, signal, macd - signal

    bands = out["close"].rolling(BB_WINDOW, min_periods=BB_WINDOW)
    middle, spread = bands.mean(), bands.std(ddof=0)
    upper, lower = middle + BB_DEVIATIONS * spread, middle - BB_DEVIATIONS * spread
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = upper, middle, lower
    out["bb_pct"] = (out["close"] - lower) / (upper - lower).where(upper != lower, np.nan)

    # ATR: Wilder average of true range, seeded with the mean of the window's first 14;
    # the window's first row has no previous close, so its range is high - low.
    previous = np.concatenate([[np.nan], close[:-1]])
    spans = np.stack([high - low, np.abs(high - previous), np.abs(low - previous)])
    true_range = np.nanmax(spans, axis=0)
    seeded = true_range.copy()
    seeded[: ATR_WINDOW - 1] = np.nan
    sums = pd.Series(true_range).rolling(ATR_WINDOW).sum().to_numpy()
    seeded[ATR_WINDOW - 1] = sums[ATR_WINDOW - 1] / ATR_WINDOW
    seeds = np.full(n, np.nan)
    origin = rows[ATR_WINDOW - 1 :] - (ATR_WINDOW - 1)
    seeds[ATR_WINDOW - 1 :] = (
        sums[ATR_WINDOW - 1 :] - true_range[origin] + (high - low)[origin]
    ) / ATR_WINDOW
    atr = trailing_ewm(
        seeded, window, alpha=1 / ATR_WINDOW, first_seen=seeds, offset=ATR_WINDOW - 1
    )
    out["atr"] = np.where(rows < ATR_WINDOW, np.nan, atr)
    return out
