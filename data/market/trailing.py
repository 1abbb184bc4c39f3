"""What a value computed on only the trailing window of candles would be, for every row at once.

The live loop computes indicators on its last `history_candles` candles, so an exponential
average there starts at the window's first row, not at the start of history. Recursive
averages are linear, so the windowed value is the full-history value plus the decayed gap
between the two starting points: one pass over the whole history gives every row's
windowed value exactly (to rounding), which is what a backtest needs to decide as live does.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def ewm(values: np.ndarray, *, span: float | None = None, alpha: float | None = None):
    """pandas `ewm(..., adjust=False).mean()`, starting at the first non-NaN value. Same
    keywords as the live code passes, so pandas derives the same float alpha."""
    return pd.Series(values).ewm(span=span, alpha=alpha, adjust=False).mean().to_numpy()


def ewm_mean(
    values: np.ndarray,
    *,
    span: float | None = None,
    alpha: float | None = None,
    min_periods: int = 1,
) -> np.ndarray:
    """`ewm(..., min_periods=..., adjust=False).mean()` to the bit, as pandas computes it step
    by step, without pandas' per-call cost on the live loop's short windows."""
    if len(values) > 10_000:  # pandas' compiled loop wins on long histories; same values
        series = pd.Series(values, dtype=float)
        averages = series.ewm(span=span, alpha=alpha, min_periods=min_periods, adjust=False)
        return averages.mean().to_numpy()
    com = (span - 1) / 2 if span is not None else (1 - alpha) / alpha  # as pandas derives it
    weight = 1.0 / (1.0 + com)
    keep = 1.0 - weight
    values = np.asarray(values, dtype=float)
    out = np.full(len(values), np.nan)
    gaps = np.isnan(values)
    if gaps.all():
        return out
    first = int(np.argmin(gaps))
    if not gaps[first:].any():  # the usual case: one tight loop
        level = float(values[first])
        levels = [level]
        norm = keep + weight
        for value in values[first + 1 :].tolist():
            if level != value:  # pandas skips the update on a constant series
                level = (keep * level + weight * value) / norm
            levels.append(level)
        shown = first + max(min_periods, 1) - 1
        out[shown:] = levels[shown - first :]
        return out
    level, seen, kept = math.nan, 0, 1.0
    for row, value in enumerate(values.tolist()):
        if value == value:  # a number, not NaN
            seen += 1
            if level != level:
                level = value
            else:
                kept *= keep
                if level != value:
                    level = (kept * level + weight * value) / (kept + weight)
                kept = 1.0
        elif level == level:
            kept *= keep  # a gap still ages the average (pandas' ignore_na=False)
        if seen >= min_periods:
            out[row] = level
    return out


def log_returns(prices: np.ndarray) -> np.ndarray:
    """`np.log(prices).diff()` as pandas gives it: NaN first."""
    logs = np.log(prices)
    out = np.empty(len(logs))
    out[:1] = np.nan
    np.subtract(logs[1:], logs[:-1], out=out[1:])
    return out


def rolling_max(values: np.ndarray, window: int) -> np.ndarray:
    """pandas `rolling(window).max()`: NaN until the window is full."""
    if np.isnan(values).any():  # pandas skips gaps; the sliding maximum would not
        return pd.Series(values).rolling(window).max().to_numpy()
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        out[window - 1 :] = np.lib.stride_tricks.sliding_window_view(values, window).max(axis=1)
    return out


def _alpha(span: float | None, alpha: float | None) -> float:
    return alpha if alpha is not None else 2.0 / (span + 1.0)


def trailing_ewm(
    values: np.ndarray,
    window: int | None,
    *,
    span: float | None = None,
    alpha: float | None = None,
    first_seen: np.ndarray | None = None,
    offset: int = 0,
) -> np.ndarray:
    """`ewm` at each row as the live loop sees it: computed on the trailing `window` rows.

    The windowed average starts `offset` rows into its window (NaN rows before it), from
    `first_seen[k]` when it starts at row k (by default the value itself: a window can see a
    row differently, e.g. with no previous close). Rows before the first full window see
    the whole history, as the live loop does while history is short.
    """
    full = ewm(values, span=span, alpha=alpha)
    n = len(values)
    if window is None or window >= n:
        return full
    start = values if first_seen is None else first_seen
    rows = np.arange(window - 1, n)
    origins = rows - window + 1 + offset
    out = full.copy()
    decay = 1 - _alpha(span, alpha)
    out[rows] = full[rows] + decay ** (window - 1 - offset) * (start[origins] - full[origins])
    return out


def decayed_constant(alpha: float, inner_decay: float, window: int, offset: int) -> float:
    """An EWM (alpha) started `offset` rows into the window, run over inner_decay**j, at the
    window's last row: how an inner average's starting gap shows in an outer one (MACD)."""
    level = inner_decay**offset
    for j in range(offset + 1, window):
        level = (1 - alpha) * level + alpha * inner_decay**j
    return level
