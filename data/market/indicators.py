"""The indicator layer: one module, one interface, so the library can be swapped by measurement.

`add_indicators` computes in numpy the values `ta` 0.11 gives (a test pins them to `ta`):
`ta`'s ATR is a Python loop over pandas rows, and its pandas calls cost milliseconds per
tick on a 300-candle window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator
from ta.trend import MACD
from ta.volatility import AverageTrueRange, BollingerBands

from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.market.rows import EVERY_ROW, MACD_SIGNAL, MACD_SLOW, EveryRow
from data.market.trailing import decayed_constant, ewm, trailing_ewm

RSI_WINDOW = DEFAULT_PERIODS.rsi  # the defaults; config [indicators] may set others
BB_WINDOW = DEFAULT_PERIODS.bollinger
ATR_WINDOW = 14  # fixed, as MACD's 12, 26, 9
BB_DEVIATIONS = 2.0


def indicator_warmup(periods: IndicatorPeriods = DEFAULT_PERIODS) -> int:
    """Candles before every indicator column is warm: RSI needs `rsi` changes (one candle
    more), the MACD signal 9 values of a line that starts on candle 26, the bands
    `bollinger` candles, ATR 14 ranges."""
    return max(periods.rsi + 1, MACD_SLOW + MACD_SIGNAL - 1, periods.bollinger, ATR_WINDOW + 1)


INDICATOR_WARMUP = indicator_warmup(DEFAULT_PERIODS)
INDICATOR_COLUMNS = (
    "rsi",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "bb_pct",
    "atr",
)


def add_indicators(
    candles: pd.DataFrame, periods: IndicatorPeriods = DEFAULT_PERIODS
) -> pd.DataFrame:
    """Return a copy of `candles` (open/high/low/close/volume) with indicator columns added.

    Rows still warming up hold NaN, never a misleading 0.
    """
    close = candles["close"].to_numpy(dtype=float)
    high, low = candles["high"].to_numpy(dtype=float), candles["low"].to_numpy(dtype=float)
    if not _usual(candles, close, high, low):
        return add_indicators_with_ta(candles, periods)
    columns = indicator_columns(close, high, low, periods=periods)
    added = pd.DataFrame(columns, index=candles.index, copy=False)
    return pd.concat([candles, added], axis=1)


def indicator_arrays(
    candles: pd.DataFrame, rows: EveryRow = EVERY_ROW, periods: IndicatorPeriods = DEFAULT_PERIODS
) -> dict[str, np.ndarray]:
    """`add_indicators`' columns as arrays, without building the frame: what the live
    loop's agents read. The candles' own columns come whole; with `LAST_ROW` each
    indicator is only its last row's value (a 1-element array)."""
    arrays = candle_arrays(candles)
    close = np.asarray(arrays["close"], dtype=float)
    high, low = np.asarray(arrays["high"], dtype=float), np.asarray(arrays["low"], dtype=float)
    if not _usual(candles, close, high, low):
        frame = add_indicators_with_ta(candles, periods)
        added = {name: frame[name].to_numpy() for name in INDICATOR_COLUMNS}
        return arrays | {name: rows.now(values) for name, values in added.items()}
    return arrays | indicator_columns(close, high, low, rows, periods)


def candle_arrays(candles: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each column as an array: views of the frame's one block when its values are numbers
    (a column lookup costs pandas some 10 µs, and a tick makes dozens)."""
    values = candles.to_numpy()
    if values.dtype.kind == "f":
        return {name: values[:, i] for i, name in enumerate(candles.columns)}
    return {name: candles[name].to_numpy() for name in candles.columns}


def _usual(candles: pd.DataFrame, close, high, low) -> bool:
    """Finite prices and no indicators yet: the numpy path. Otherwise (gaps, or a frame
    that already has indicators) `ta` itself computes them, slowly."""
    return (
        len(close) > 0
        and np.isfinite(close).all()
        and np.isfinite(high).all()
        and np.isfinite(low).all()
        and set(candles.columns).isdisjoint(INDICATOR_COLUMNS)
    )


def indicator_columns(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    rows: EveryRow = EVERY_ROW,
    periods: IndicatorPeriods = DEFAULT_PERIODS,
) -> dict:
    """Each indicator column for finite prices, as `ta` computes it, in numpy."""
    macd, signal = rows.macd(close)

    return {
        "rsi": _rsi(close, periods.rsi, rows),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": macd - signal,
        **bollinger_bands(close, rows, periods.bollinger),
        "atr": _atr(close, high, low, rows),
    }


def rsi(close: np.ndarray, period: int = RSI_WINDOW) -> np.ndarray:
    """`ta`'s RSIIndicator(close, period).rsi() for finite prices, NaN while warming up."""
    return _rsi(np.asarray(close, dtype=float), period, EVERY_ROW)


def _rsi(close: np.ndarray, period: int, rows: EveryRow) -> np.ndarray:
    """Wilder averages of gains and losses; the first row has no change, counted as 0 (`ta`)."""
    change = np.empty(len(close))
    change[:1] = np.nan
    np.subtract(close[1:], close[:-1], out=change[1:])
    gains = np.where(change > 0, change, 0.0)
    losses = -np.where(change < 0, change, 0.0)
    up = rows.ewm(gains, alpha=1 / period, min_periods=period)
    down = rows.ewm(losses, alpha=1 / period, min_periods=period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(down == 0, 100.0, 100 - (100 / (1 + up / down)))


def bollinger_bands(
    close: np.ndarray, rows: EveryRow = EVERY_ROW, period: int = BB_WINDOW
) -> dict[str, np.ndarray]:
    """`ta`'s bands and %B. Middle and spread are pandas' rolling mean and std for every row
    (their running sums drift from a fresh sum, most where prices barely move), a fresh sum
    for the last row alone; both exact over a flat window, which has no band position."""
    middle, spread = rows.mean_std(close, period, ddof=0)
    upper = middle + BB_DEVIATIONS * spread
    lower = middle - BB_DEVIATIONS * spread
    with np.errstate(divide="ignore", invalid="ignore"):
        band_pct = (rows.now(close) - lower) / np.where(upper != lower, upper - lower, np.nan)
    return {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "bb_pct": band_pct}


def _atr(close: np.ndarray, high: np.ndarray, low: np.ndarray, rows: EveryRow) -> np.ndarray:
    """`ta`'s ATR (its seed, then Wilder's average), with NaN where `ta` pads zeros."""
    previous = np.empty(len(close))
    previous[0] = np.nan
    previous[1:] = close[:-1]
    true_range = np.fmax(np.fmax(high - low, np.abs(high - previous)), np.abs(low - previous))
    return rows.wilder(true_range, ATR_WINDOW)


def add_indicators_with_ta(
    candles: pd.DataFrame, periods: IndicatorPeriods = DEFAULT_PERIODS
) -> pd.DataFrame:
    """`add_indicators` through `ta` itself: the reference the numpy path is pinned to."""
    out = candles.copy()
    close, high, low = out["close"], out["high"], out["low"]
    out["rsi"] = RSIIndicator(close, periods.rsi).rsi()
    macd = MACD(close)
    out["macd"] = macd.macd()
    out["macd_signal"] = macd.macd_signal()
    out["macd_hist"] = macd.macd_diff()
    bands = BollingerBands(close, periods.bollinger, BB_DEVIATIONS)
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


def add_indicators_over_windows(
    candles: pd.DataFrame, window: int, periods: IndicatorPeriods = DEFAULT_PERIODS
) -> pd.DataFrame:
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
    up = trailing_ewm(gains, window, alpha=1 / periods.rsi, first_seen=zeros)
    down = trailing_ewm(losses, window, alpha=1 / periods.rsi, first_seen=zeros)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = np.where(down == 0, 100.0, 100.0 - 100.0 / (1.0 + up / down))
    out["rsi"] = np.where(rows < periods.rsi - 1, np.nan, rsi)

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

    bands = bollinger_bands(close, period=periods.bollinger)  # a window's own, every row alike
    for name, values in bands.items():
        out[name] = values

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
