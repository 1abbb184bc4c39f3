"""Candles of a higher timeframe from a lower one (1m -> 5m, 5m -> 1h)."""

from __future__ import annotations

import pandas as pd

from data.candles.errors import CandleDataError
from data.candles.table import CANDLE_COLUMNS
from data.candles.timeframes import timeframe_name, timeframe_seconds

_AGGREGATE = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
# Buckets start on the exchange's grid: minutes to days from midnight UTC, weeks on Monday.
_EPOCH_MONDAY = pd.Timestamp("1970-01-05", tz="UTC")


def resample(candles: pd.DataFrame, step_seconds: int, timeframe: str) -> pd.DataFrame:
    """Open first, high max, low min, close last, volume sum. A bucket missing any of its
    candles (the last one still forming, the first one cut by the file's start, one over a
    gap) is dropped rather than built from part of its time."""
    target = timeframe_seconds(timeframe)
    if target <= step_seconds or target % step_seconds:
        raise CandleDataError(
            f"cannot resample {timeframe_name(step_seconds)} candles to {timeframe}: the new "
            "timeframe must be a whole multiple above the old one"
        )
    if candles.empty:
        return candles
    origin = _EPOCH_MONDAY if target % 604_800 == 0 else "epoch"
    buckets = candles.resample(
        pd.Timedelta(seconds=target), origin=origin, label="left", closed="left"
    )
    merged = buckets.agg(_AGGREGATE)
    complete = buckets["close"].count() == target // step_seconds
    merged = merged[complete.to_numpy()][CANDLE_COLUMNS]
    merged.index.name = "ts"
    return merged
