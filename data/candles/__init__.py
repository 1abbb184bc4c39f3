"""Real candles: the local store, the readers of other tools' files, gaps and resampling.

Pure files and pandas/pyarrow; nothing here imports the engine."""

from data.candles.errors import CandleDataError, CandleGapError
from data.candles.gaps import (
    GAP_POLICIES,
    Gap,
    GapPolicy,
    apply_gap_policy,
    fill_gaps,
    find_gaps,
    refuse_gaps,
    split_at_gaps,
)
from data.candles.readers import read_candle_file
from data.candles.resample import resample
from data.candles.store import CANDLE_COLUMNS, CandleStore, SeriesInfo, SeriesKey
from data.candles.table import CandleFile
from data.candles.timeframes import spacing_seconds, timeframe_name, timeframe_seconds

__all__ = [
    "CANDLE_COLUMNS",
    "GAP_POLICIES",
    "CandleDataError",
    "CandleFile",
    "CandleGapError",
    "CandleStore",
    "Gap",
    "GapPolicy",
    "SeriesInfo",
    "SeriesKey",
    "apply_gap_policy",
    "fill_gaps",
    "find_gaps",
    "read_candle_file",
    "refuse_gaps",
    "resample",
    "spacing_seconds",
    "split_at_gaps",
    "timeframe_name",
    "timeframe_seconds",
]
