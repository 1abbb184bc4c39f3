"""A parameter grid of a fixed-size, long-only signal rule, swept in one compiled pass: the
textbook RSI rule (buy below an entry level when flat, sell above an exit level when long),
trading on each candle's close, with a fee on both sides. Each RSI length is computed once
and shared by every combination that uses it; combinations run in parallel on the cores,
candles in order, with no signal matrix of candles x combinations in memory.

The figures are vectorbt's `Portfolio.from_signals(close, level < entry, level > exit,
size=size, size_type="amount", fees=fee_rate, accumulate=False, direction="longonly")`
with unlimited cash (a test pins every combination to it): total profit in the quote
currency, an open position valued at the last close without an exit fee.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numba
import numpy as np

from data.market.indicators import rsi


class GridError(ValueError):
    """A grid that cannot be swept: no candles, no levels, or a nonsensical fee or size."""


@dataclass(frozen=True)
class GridResult:
    """One row per (period, entry, exit) combination, periods outermost, exits innermost."""

    periods: np.ndarray  # each combination's indicator length
    entry_levels: np.ndarray
    exit_levels: np.ndarray
    profit: np.ndarray  # quote currency, after fees; an open position valued at the last close
    trades: np.ndarray  # entries, an open position included (vectorbt's trades.count())

    def __len__(self) -> int:
        return len(self.profit)

    def best(self) -> tuple[int, float, float, float]:
        """(period, entry level, exit level, profit) of the most profitable combination; the
        first in grid order on a tie."""
        k = int(np.argmax(self.profit))
        return (
            int(self.periods[k]),
            float(self.entry_levels[k]),
            float(self.exit_levels[k]),
            float(self.profit[k]),
        )


def rsi_grid(
    close: np.ndarray,
    periods: Iterable[int],
    entry_levels: Iterable[float],
    exit_levels: Iterable[float],
    fee_rate: float,
    size: float = 1.0,
) -> GridResult:
    """Every (period, entry, exit) combination of the RSI rule over `close`; each RSI length
    computed once (`data.market.indicators.rsi`, NaN while warming up: no signal)."""
    close = _closes(close)
    lengths = list(dict.fromkeys(int(p) for p in periods))  # distinct, in the given order
    levels = {period: rsi(close, period) for period in lengths}
    return level_grid(close, levels, entry_levels, exit_levels, fee_rate, size)


def level_grid(
    close: np.ndarray,
    levels: Mapping[int, np.ndarray],
    entry_levels: Iterable[float],
    exit_levels: Iterable[float],
    fee_rate: float,
    size: float = 1.0,
) -> GridResult:
    """The same rule over indicator values already computed, one series per period (any
    oscillator: enter when it is below the entry level, exit when above the exit level)."""
    close = _closes(close)
    entries_given = np.asarray(list(entry_levels), dtype=np.float64)
    exits_given = np.asarray(list(exit_levels), dtype=np.float64)
    if not levels or not len(entries_given) or not len(exits_given):
        raise GridError("grid: the periods, entry levels and exit levels must each be non-empty")
    if entries_given.max() >= exits_given.min():
        # Both signals on one candle: vectorbt ignores both, a plain rule would not; refused.
        raise GridError(
            f"grid: entry level {entries_given.max():g} is not below exit level "
            f"{exits_given.min():g}: a candle could both buy and sell"
        )
    if not (0.0 <= fee_rate < 1.0) or not size > 0.0:
        raise GridError(f"grid: fee_rate {fee_rate} must be in [0, 1) and size {size} above 0")
    names = list(levels)
    values = np.vstack([np.asarray(levels[p], dtype=np.float64) for p in names])
    if values.shape[1] != len(close):
        raise GridError(f"grid: indicator values cover {values.shape[1]} candles, not {len(close)}")
    combos = list(itertools.product(range(len(names)), entries_given, exits_given))
    which = np.array([c[0] for c in combos], dtype=np.int64)
    entries = np.array([c[1] for c in combos], dtype=np.float64)
    exits = np.array([c[2] for c in combos], dtype=np.float64)
    profit, trades = _sweep(close, values, which, entries, exits, float(fee_rate), float(size))
    periods = np.array(names, dtype=np.int64)[which]
    return GridResult(periods, entries, exits, profit, trades)


def _closes(close: np.ndarray) -> np.ndarray:
    close = np.ascontiguousarray(close, dtype=np.float64)
    if close.ndim != 1 or len(close) == 0:
        raise GridError(f"grid: closes must be one non-empty series, got shape {close.shape}")
    return close


# fastmath stays off: the sums must match vectorbt's to the last bits, not merely closely.
@numba.njit(parallel=True, cache=True)
def _sweep(close, values, which, entries, exits, fee_rate, size):  # pragma: no cover - compiled
    combos, n = len(which), len(close)
    profit = np.zeros(combos)
    trades = np.zeros(combos, dtype=np.int64)
    for k in numba.prange(combos):
        series, entry, exit_ = values[which[k]], entries[k], exits[k]
        held, cost, pnl, count = False, 0.0, 0.0, 0
        for i in range(n):
            level = series[i]
            if not held:
                if level < entry:  # NaN (warm-up) compares false: no signal
                    held, count = True, count + 1
                    cost = size * close[i] * (1.0 + fee_rate)
            elif level > exit_:
                pnl += size * close[i] * (1.0 - fee_rate) - cost
                held = False
        if held:
            pnl += size * close[n - 1] - cost
        profit[k], trades[k] = pnl, count
    return profit, trades
