"""What a value computed on only the trailing window of candles would be, for every row at once.

The live loop computes indicators on its last `history_candles` candles, so an exponential
average there starts at the window's first row, not at the start of history. Recursive
averages are linear, so the windowed value is the full-history value plus the decayed gap
between the two starting points: one pass over the whole history gives every row's
windowed value exactly (to rounding), which is what a backtest needs to decide as live does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ewm(values: np.ndarray, *, span: float | None = None, alpha: float | None = None):
    """pandas `ewm(..., adjust=False).mean()`, starting at the first non-NaN value. Same
    keywords as the live code passes, so pandas derives the same float alpha."""
    return pd.Series(values).ewm(span=span, alpha=alpha, adjust=False).mean().to_numpy()


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
