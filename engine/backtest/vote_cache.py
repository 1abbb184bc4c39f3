"""Votes already computed, kept for the next trial of a search: by pair, agent and only the
indicator lengths that agent reads, so a trial that changes the RSI length recomputes the
technical agent's votes alone. Least recently used entries go first past `max_bytes`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import astuple

import numpy as np
import pandas as pd

from data.market.periods import IndicatorPeriods

# The lengths each agent's votes read; an agent not named here reads them all.
AGENT_PERIODS = {
    "technical": ("rsi", "bollinger"),
    "regime": ("trend_fast", "trend_slow"),
    "sentiment": ("momentum",),
    "rsi_rule": ("rsi",),
}
FRAME_LENGTHS = ("rsi", "bollinger")  # the lengths of the indicator frame's own columns
DEFAULT_MAX_BYTES = 256 * 2**20


class VoteCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.computed = 0  # entries computed: a search's measure of what it shared
        self.reused = 0
        self._entries: OrderedDict[tuple, tuple[np.ndarray, ...]] = OrderedDict()
        self._bytes = 0
        self._frames: dict[tuple, pd.DataFrame] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def frame(self, key: tuple, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The first indicator frame computed for `key`: its candles and length-free columns
        serve every trial."""
        if key not in self._frames:
            self._frames[key] = compute()
        return self._frames[key]

    def arrays(self, key: tuple, compute: Callable[[], tuple[np.ndarray, ...]]):
        if key in self._entries:
            self._entries.move_to_end(key)
            self.reused += 1
            return self._entries[key]
        value = compute()
        self.computed += 1
        self._entries[key] = value
        self._bytes += sum(a.nbytes for a in value)
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= sum(a.nbytes for a in dropped)
        return value


def reads_no_frame_lengths(name: str) -> bool:
    """An agent whose votes read none of the indicator frame's own lengths."""
    return name in AGENT_PERIODS and not set(AGENT_PERIODS[name]) & set(FRAME_LENGTHS)


def agent_key(name: str, periods: IndicatorPeriods) -> tuple:
    fields = AGENT_PERIODS.get(name)
    if fields is None:
        return astuple(periods)
    return tuple(getattr(periods, f) for f in fields)
