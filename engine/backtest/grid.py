"""A parameter grid of a fixed-size, long-only signal rule, swept in one compiled pass: the
textbook RSI rule (buy below an entry level when flat, sell above an exit level when long),
trading on each candle's close, with a fee on both sides. Each RSI length is computed once
and shared by every combination that uses it; combinations run in parallel on the cores,
candles in order, with no signal matrix of candles x combinations in memory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numba
import numpy as np

from data.market.indicators import rsi


@dataclass(frozen=True)
class GridResult:
    periods: np.ndarray  # each combination's RSI length
    entry_levels: np.ndarray
    exit_levels: np.ndarray
    profit: np.ndarray  # quote currency, an open position valued at the last close
    trades: np.ndarray  # entries, the open one included

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
    periods,
    entry_levels,
    exit_levels,
    fee_rate: float,
    size: float = 1.0,
) -> GridResult:
    """Every (period, entry, exit) combination, in that nesting order."""
    close = np.ascontiguousarray(close, dtype=np.float64)
    periods = [int(p) for p in periods]
    values = np.vstack([rsi(close, p) for p in periods])
    combos = list(itertools.product(range(len(periods)), entry_levels, exit_levels))
    which = np.array([c[0] for c in combos], dtype=np.int64)
    entries = np.array([c[1] for c in combos], dtype=np.float64)
    exits = np.array([c[2] for c in combos], dtype=np.float64)
    profit, trades = _sweep(close, values, which, entries, exits, float(fee_rate), float(size))
    return GridResult(np.array(periods)[which], entries, exits, profit, trades)


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
