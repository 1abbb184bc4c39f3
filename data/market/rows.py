"""Which rows an indicator or agent computes: every row (backtests, charts) or only the last.

The live loop reads only the last row of every column, yet exponential averages run over
the whole window, and rolling statistics cost pandas' per-call overhead for every row.
`LAST_ROW` gives the last row's value of the same formulas as a 1-element array, so the
code that combines columns elementwise is written once for both: an average as one dot
product with weights cached per window length, a rolling statistic on the window's tail.
Tests pin `LAST_ROW` to `EVERY_ROW`'s last row.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from data.market.trailing import ewm_mean, rolling_max

MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9


class EveryRow:
    """Each column for every row."""

    def now(self, values: np.ndarray) -> np.ndarray:
        return values

    def lag(self, values: np.ndarray, periods: int) -> np.ndarray:
        """The value `periods` rows earlier (NaN before the start)."""
        out = np.full(len(values), np.nan)
        out[periods:] = values[: max(0, len(values) - periods)]
        return out

    def ewm(self, values, *, span=None, alpha=None, min_periods: int = 1) -> np.ndarray:
        return ewm_mean(values, span=span, alpha=alpha, min_periods=min_periods)

    def macd(self, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`ta`'s MACD (12, 26, 9): the line and its signal."""
        fast = ewm_mean(close, span=MACD_FAST, min_periods=MACD_FAST)
        slow = ewm_mean(close, span=MACD_SLOW, min_periods=MACD_SLOW)
        line = fast - slow
        return line, ewm_mean(line, span=MACD_SIGNAL, min_periods=MACD_SIGNAL)

    def wilder(self, values: np.ndarray, window: int) -> np.ndarray:
        """`ta`'s ATR average: the mean of the first `window` values, then Wilder's."""
        out = np.full(len(values), np.nan)
        if len(values) <= window:
            return out
        level = float(values[:window].sum() / window)
        levels = [level]
        for value in values[window:].tolist():
            level = (level * (window - 1) + value) / float(window)
            levels.append(level)
        out[window - 1 :] = levels
        return out

    def mean_std(self, values, window: int, ddof: int) -> tuple[np.ndarray, np.ndarray]:
        """Rolling mean and standard deviation over full windows (`ta`'s Bollinger bands)."""
        rolling = pd.Series(values).rolling(window, min_periods=window)
        flat = flat_windows(values, window)
        means, spreads = rolling.mean().to_numpy(), rolling.std(ddof=ddof).to_numpy()
        return np.where(flat, values, means), np.where(flat, 0.0, spreads)

    def rolling_std(self, values, window: int, min_periods=None, ddof: int = 1) -> np.ndarray:
        rolling = pd.Series(values).rolling(window, min_periods=min_periods)
        return np.where(flat_windows(values, window), 0.0, rolling.std(ddof=ddof).to_numpy())

    def rolling_median(self, values, window: int) -> np.ndarray:
        return pd.Series(values).rolling(window).median().to_numpy()

    def rolling_max(self, values, window: int) -> np.ndarray:
        return rolling_max(values, window)


class LastRow(EveryRow):
    """Only the last row's value of each column, as a 1-element array."""

    def now(self, values: np.ndarray) -> np.ndarray:
        return values[-1:]

    def lag(self, values: np.ndarray, periods: int) -> np.ndarray:
        return values[-1 - periods : len(values) - periods] if len(values) > periods else _NAN

    def ewm(self, values, *, span=None, alpha=None, min_periods: int = 1) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        gaps = np.isnan(values)
        if gaps.all():
            return _NAN
        first = int(np.argmin(gaps))
        if gaps[first:].any():  # a gap ages the average: the general loop handles it
            return super().ewm(values, span=span, alpha=alpha, min_periods=min_periods)[-1:]
        seen = len(values) - first
        if seen < max(min_periods, 1):
            return _NAN
        com = _com(span) if span is not None else (1 - alpha) / alpha  # as pandas does
        return np.array([_centred_dot(_ewm_weights(seen, com), values[first:], 1.0)])

    def macd(self, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(close)
        if n < MACD_SLOW or not np.isfinite(close).all():
            line, signal = super().macd(close)
            return line[-1:], signal[-1:]
        line_weights, signal_weights = _macd_weights(n)
        line = np.array([_centred_dot(line_weights, close, 0.0)])
        if n < MACD_SLOW + MACD_SIGNAL - 1:
            return line, _NAN
        return line, np.array([_centred_dot(signal_weights, close, 0.0)])

    def wilder(self, values: np.ndarray, window: int) -> np.ndarray:
        if len(values) <= window or not np.isfinite(values).all():
            return super().wilder(values, window)[-1:]
        return np.array([_centred_dot(_wilder_weights(len(values), window), values, 1.0)])

    def mean_std(self, values, window: int, ddof: int) -> tuple[np.ndarray, np.ndarray]:
        tail = _full_tail(values, window, window)
        if tail is None:
            return _NAN, _NAN
        return np.array([_mean(tail)]), _std(tail, ddof)

    def rolling_std(self, values, window: int, min_periods=None, ddof: int = 1) -> np.ndarray:
        tail = _full_tail(values, window, window if min_periods is None else min_periods)
        return _NAN if tail is None else _std(tail, ddof)

    def rolling_median(self, values, window: int) -> np.ndarray:
        tail = _full_tail(values, window, window)
        return _NAN if tail is None else np.array([np.median(tail)])

    def rolling_max(self, values, window: int) -> np.ndarray:
        tail = _full_tail(values, window, window)
        return _NAN if tail is None else np.array([tail.max()])


EVERY_ROW, LAST_ROW = EveryRow(), LastRow()


def flat_windows(values, window: int) -> np.ndarray:
    """Rows whose last `window` values are all present and equal. There a rolling mean is
    the value and a spread 0, exactly: pandas' running sums can leave 1e-5 over a flat
    window after a busy history, which would put the price mid-band instead of nowhere."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    out = np.zeros(n, dtype=bool)
    if n >= window:
        changes = np.zeros(n, dtype=np.int64)
        np.cumsum(~(values[1:] == values[:-1]), out=changes[1:])  # NaN counts as a change
        out[window - 1 :] = changes[window - 1 :] == changes[: n - window + 1]
        out &= ~np.isnan(values)
    return out


_NAN = np.array([np.nan])
_NAN.flags.writeable = False


def _full_tail(values, window: int, min_periods: int) -> np.ndarray | None:
    """The last `window` values without NaNs (pandas skips them), if at least `min_periods`."""
    tail = np.asarray(values, dtype=float)[-window:]
    if not np.isfinite(tail).all():
        tail = tail[~np.isnan(tail)]
    return tail if len(tail) >= max(min_periods, 1) else None


def _mean(tail: np.ndarray) -> float:
    # A flat window's mean is its value, exactly, as pandas gives it (a sum would not:
    # 20 x 3077.9 / 20 is 3077.9000000000005, and the bands would open by 1e-13).
    return float(tail[0]) if tail.min() == tail.max() else float(tail.mean())


def _std(tail: np.ndarray, ddof: int) -> np.ndarray:
    if len(tail) <= ddof:
        return _NAN
    if tail.min() == tail.max():
        return np.array([0.0])  # flat: exactly 0, as pandas gives it
    spread = tail - tail.mean()  # two passes, as numpy's std, without its overhead
    return np.array([math.sqrt(float(spread @ spread) / (len(tail) - ddof))])


def _centred_dot(weights: np.ndarray, values: np.ndarray, total: float) -> float:
    """dot(weights, values) for weights whose exact sum is `total` (1 for an average, 0 for
    a difference of two), taken about the last value: the terms stay small, a difference
    of two averages keeps its digits, and a flat run gives its value (or 0) exactly, as
    pandas' loop does."""
    centre = float(values[-1])
    return centre * total + float(weights @ (values - centre))


def _com(span: float) -> float:
    return (span - 1) / 2  # as pandas derives it


@lru_cache(maxsize=64)
def _ewm_weights(seen: int, com: float) -> np.ndarray:
    """Each value's weight in pandas' `ewm(com=..., adjust=False)` level after `seen` values."""
    weight = 1.0 / (1.0 + com)
    keep = 1.0 - weight
    out = weight * keep ** np.arange(seen - 1, -1, -1, dtype=float)
    out[0] = keep ** (seen - 1)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=16)
def _macd_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each close's weight in the MACD line and in its signal on the last of `n` closes.
    Both averages are linear in the closes, so the signal (an average of the line from its
    first value, row 25) is one weight per close too."""
    line = _ewm_weights(n, _com(MACD_FAST)) - _ewm_weights(n, _com(MACD_SLOW))
    signal = np.zeros(n)
    start = MACD_SLOW - 1
    if n > start:
        outer = np.zeros(n)
        outer[start:] = _ewm_weights(n - start, _com(MACD_SIGNAL))
        signal = _carried(outer, MACD_FAST) - _carried(outer, MACD_SLOW)
    line.flags.writeable = signal.flags.writeable = False
    return line, signal


def _carried(outer: np.ndarray, span: int) -> np.ndarray:
    """Each value's weight in sum_j outer[j] * ewm(values, span)[j]: the outer weights
    carried back through the inner average, in one pass from the last row."""
    weight = 1.0 / (1.0 + _com(span))
    keep = 1.0 - weight
    carried, level = np.empty(len(outer)), 0.0
    for i in range(len(outer) - 1, -1, -1):
        level = outer[i] + keep * level  # sum over j >= i of outer[j] * keep**(j - i)
        carried[i] = level
    out = weight * carried
    out[0] = carried[0]  # the first value starts the average with its whole weight
    return out


@lru_cache(maxsize=16)
def _wilder_weights(n: int, window: int) -> np.ndarray:
    keep = (window - 1) / window
    out = np.empty(n)
    out[window:] = keep ** np.arange(n - window - 1, -1, -1, dtype=float) / window
    out[:window] = keep ** (n - window) / window
    out.flags.writeable = False
    return out
