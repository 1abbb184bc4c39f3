"""Timeframes as exchanges name them (1m, 5m, 1h, 1d, 1w) and the spacing of candles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.candles.errors import CandleDataError

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60}


def timeframe_seconds(timeframe: str) -> int:
    """'5m' -> 300. Months are refused: they are not a fixed number of seconds."""
    unit, count = timeframe[-1:], timeframe[:-1]
    if unit not in _UNITS or not count.isdigit() or int(count) < 1:
        raise CandleDataError(f"timeframe {timeframe!r} must look like 1m, 5m, 1h, 1d or 1w")
    return int(count) * _UNITS[unit]


def timeframe_name(seconds: int) -> str:
    """300 -> '5m'; the largest unit that divides the spacing exactly."""
    for unit, size in _UNITS.items():
        if seconds > 0 and seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise CandleDataError(f"candles {seconds} s apart are not a timeframe of whole minutes")


def spacing_seconds(index: pd.DatetimeIndex) -> int | None:
    """The most common spacing between consecutive candles (gaps do not move it); None for
    fewer than two candles."""
    if len(index) < 2:
        return None
    steps = np.diff(index.as_unit("s").asi8)
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def describe(delta: pd.Timedelta) -> str:
    """A duration a trader reads at a glance: 45m, 3h10m, 2d4h."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return "".join(parts) or f"{int(delta.total_seconds())}s"
