"""The indicator layer: one module, one interface, so the library can be swapped by measurement."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator
from ta.trend import MACD
from ta.volatility import AverageTrueRange, BollingerBands

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
