"""Market data for backtests: candle files or stored series (read by data.candles, gaps
judged by a stated policy), or the seeded synthetic market."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from data.candles import (
    CandleDataError,
    CandleStore,
    GapPolicy,
    SeriesKey,
    apply_gap_policy,
    read_candle_file,
    spacing_seconds,
    split_at_gaps,
    timeframe_seconds,
)
from engine.venues.feed import CANDLE_COLUMNS
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed

CSV_COLUMNS = ["timestamp", *CANDLE_COLUMNS]
__all__ = [
    "CandleDataError",
    "Market",
    "csv_market",
    "load_candles",
    "load_csv",
    "load_segments",
    "store_market",
]


@dataclass(frozen=True)
class Market:
    """Candles of every pair on one shared time index; decisions from row `first` on."""

    pairs: list[str]
    candles: dict[str, pd.DataFrame]
    step_seconds: int
    first: int  # rows before it are warm-up only
    source: str

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.candles[self.pairs[0]].index

    @property
    def decided(self) -> int:
        return len(self.index) - self.first


def load_csv(path: str | Path) -> pd.DataFrame:
    """Read candles: timestamp (ISO 8601, or epoch seconds or milliseconds), open, high, low,
    close, volume; one row per candle, oldest first, no gaps. Raises CandleDataError naming
    the line (the header is line 1) for the first bad row found."""
    return load_candles(path)


def load_candles(
    source: str | Path | SeriesKey,
    gaps: GapPolicy = "refuse",
    store: CandleStore | None = None,
) -> pd.DataFrame:
    """Candles from a file (any format `python -m engine import` reads) or a stored series,
    with gaps refused (CandleGapError naming the first), filled flat, or kept ("split": see
    load_segments for the gap-free pieces)."""
    candles, step, name, where = _read(source, store)
    if step is None:
        return candles
    return apply_gap_policy(candles, step, gaps, name, where)


def load_segments(
    source: str | Path | SeriesKey, store: CandleStore | None = None
) -> list[pd.DataFrame]:
    """The gap-free segments of a file or stored series, oldest first, each usable alone."""
    candles, step, name, where = _read(source, store)
    if step is None:
        return [candles]
    apply_gap_policy(candles, step, "split", name, where)  # off-grid candles are refused
    return split_at_gaps(candles, step)


def _read(source, store):
    if isinstance(source, SeriesKey):
        store = store or CandleStore.default()
        candles = store.read(source.exchange, source.pair, source.timeframe)
        if candles.empty:
            raise CandleDataError(
                f"{source}: no stored candles; bring them in with python -m engine import "
                "or python -m engine download"
            )
        return candles, timeframe_seconds(source.timeframe), str(source), None
    read = read_candle_file(source)
    return read.candles, spacing_seconds(read.candles.index), read.source, read.where


def csv_market(
    paths: list[str | Path | SeriesKey],
    pairs: list[str],
    start: datetime | None,
    end: datetime | None,
    warmup: int,
    gaps: GapPolicy = "refuse",
    store: CandleStore | None = None,
) -> Market:
    """One candle file (or stored series) per pair, in `pairs` order, on the times they
    share. With gaps "split", the longest stretch of shared times without a gap is used."""
    if len(paths) != len(pairs):
        raise CandleDataError(
            f"{len(paths)} candle file(s) for {len(pairs)} pair(s): give one --data per pair"
        )
    names = [str(p) if isinstance(p, SeriesKey) else Path(p).name for p in paths]
    kind = "csv" if all(name.lower().endswith(".csv") for name in names) else "candles"
    frames = {pair: load_candles(p, gaps, store) for pair, p in zip(pairs, paths, strict=True)}
    return _shared_market(frames, pairs, start, end, warmup, gaps, f"{kind}: {', '.join(names)}")


def store_market(
    exchange: str,
    pairs: list[str],
    timeframe: str,
    start: datetime | None,
    end: datetime | None,
    warmup: int,
    gaps: GapPolicy = "refuse",
    store: CandleStore | None = None,
) -> Market:
    """The candle store's series of `pairs` on `exchange` in `timeframe`."""
    frames = {
        pair: load_candles(SeriesKey(exchange, pair, timeframe), gaps, store) for pair in pairs
    }
    source = f"stored {exchange} {timeframe}: {', '.join(pairs)}"
    return _shared_market(frames, pairs, start, end, warmup, gaps, source)


def _shared_market(frames, pairs, start, end, warmup, gaps, source) -> Market:
    steps = {spacing_seconds(frame.index) or 0 for frame in frames.values()}
    if len(steps) > 1:
        raise CandleDataError(f"the files' candle lengths differ: {sorted(steps)} s")
    step = steps.pop()
    common = frames[pairs[0]].index
    for frame in frames.values():
        common = common.intersection(frame.index)
    if len(common) == 0:
        raise CandleDataError("the files share no timestamps")
    if gaps == "split" and step:
        pieces = split_at_gaps(pd.DataFrame(index=common), step)
        if len(pieces) > 1:
            source += f" (the longest of {len(pieces)} gap-free segments)"
        common = max(pieces, key=len).index
    frames = {pair: frame.loc[common] for pair, frame in frames.items()}
    return _span(frames, pairs, step, start, end, warmup, source)


def synthetic_market(
    seed: int,
    pairs: list[str],
    timeframe: str,
    start: datetime | None,
    end: datetime | None,
    warmup: int,
) -> Market:
    """The live synthetic feed's own candles, so a backtest sees the market a paper run saw."""
    feed = SyntheticFeed(seed, timeframe)
    step = feed.step
    end = end or (start or SYNTHETIC_EPOCH) + timedelta(days=30)
    start = start or SYNTHETIC_EPOCH
    if end <= start:
        raise CandleDataError(
            f"--to {end:%Y-%m-%d %H:%M} is not after --from {start:%Y-%m-%d %H:%M}"
        )
    first_open = max(SYNTHETIC_EPOCH, start - timedelta(seconds=step * warmup))
    count = int((end - first_open).total_seconds() // step)
    frames = {
        pair: feed.candles(pair, first_open + timedelta(seconds=step * count), count)
        for pair in pairs
    }
    return _span(frames, pairs, step, start, end, warmup, f"synthetic seed {seed}")


def _span(frames, pairs, step, start, end, warmup, source) -> Market:
    """Keep up to `warmup` candles before `start` for the indicators; decide from `start`
    (by the candle's close, as live decides when a candle has closed) to `end`."""
    index = frames[pairs[0]].index
    closes = index + pd.Timedelta(seconds=step)
    first = 0 if start is None else int(np.searchsorted(closes, pd.Timestamp(start), "left"))
    stop = len(index) if end is None else int(np.searchsorted(closes, pd.Timestamp(end), "right"))
    if stop <= first:
        raise CandleDataError(f"no candles in the span asked for ({source})")
    begin = max(0, first - warmup)
    frames = {pair: frame.iloc[begin:stop] for pair, frame in frames.items()}
    return Market(pairs, frames, step, first - begin, source)


def parse_time(text: str) -> datetime:
    ts = pd.Timestamp(text)
    return (ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)).to_pydatetime()
