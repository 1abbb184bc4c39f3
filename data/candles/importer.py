"""Import candle files into the store, one plain line per file: what was read and where it
went, or why not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from data.candles.errors import CandleDataError, CandleGapError
from data.candles.gaps import Gap, GapPolicy, apply_gap_policy, find_gaps, split_at_gaps, summarize
from data.candles.names import pair_and_timeframe
from data.candles.readers import read_candle_file
from data.candles.resample import resample
from data.candles.store import CandleStore
from data.candles.table import CandleFile
from data.candles.timeframes import spacing_seconds, timeframe_name, timeframe_seconds


@dataclass(frozen=True)
class ImportResult:
    source: Path
    file_format: str
    pair: str
    timeframe: str  # of the file
    read: pd.DataFrame  # the file's candles
    gaps: list[Gap]
    policy: GapPolicy
    stored: pd.DataFrame  # what went into the store, after the policy and any resampling
    stored_timeframe: str
    stored_at: Path
    added: int

    def line(self) -> str:
        span = f"{_minute(self.read.index[0])} → {_minute(self.read.index[-1])} UTC"
        what = (
            f"{self.source.name}: {self.pair} {self.timeframe} ({self.file_format}), "
            f"{len(self.read):,} candles {span}, {summarize(self.gaps)}"
        )
        if self.gaps:
            what += f" {self._policy_outcome()}"
        if self.stored_timeframe != self.timeframe:
            what += f"; resampled to {len(self.stored):,} {self.stored_timeframe} candles"
        return f"{what}; stored in {_shown(self.stored_at)} ({self.added:,} new)"

    def _policy_outcome(self) -> str:
        if self.policy == "fill":
            filled = sum(gap.missing for gap in self.gaps)
            return f"filled with {filled:,} flat candle{'s' if filled != 1 else ''}"
        segments = split_at_gaps(self.read, timeframe_seconds(self.timeframe))
        longest = max(len(segment) for segment in segments)
        return f"kept as {len(segments)} segments (longest {longest:,} candles)"


def import_file(
    path: str | Path,
    store: CandleStore,
    exchange: str,
    pair: str | None = None,
    timeframe: str | None = None,
    gaps: GapPolicy = "split",
    resample_to: str | None = None,
) -> ImportResult:
    """Read, judge the gaps by `gaps`, resample if asked, and merge into the store. Pair and
    timeframe come from the arguments, else the file's name, else (timeframe) the spacing of
    its candles. Raises CandleDataError naming the file and the cause."""
    path = Path(path)
    read = read_candle_file(path)
    named_pair, named_timeframe = pair_and_timeframe(path)
    pair = pair or named_pair
    if pair is None:
        raise CandleDataError(f"{path}: cannot tell the pair from the name; give --pair BASE/QUOTE")
    timeframe = _timeframe(read, timeframe, named_timeframe)
    step = timeframe_seconds(timeframe)
    found = find_gaps(read.candles, step, read.source, read.where)
    try:
        stored = apply_gap_policy(read.candles, step, gaps, read.source, read.where)
    except CandleGapError as exc:
        raise CandleGapError(f"{exc}; import with --gaps fill or --gaps split") from None
    stored_timeframe = timeframe
    if resample_to and resample_to != timeframe:
        stored = resample(stored, step, resample_to)
        stored_timeframe = resample_to
        if stored.empty:
            raise CandleDataError(f"{path}: no complete {resample_to} candle in the file")
    added = store.write(exchange, pair, stored_timeframe, stored)
    return ImportResult(
        path, read.format, pair, timeframe, read.candles, found, gaps, stored,
        stored_timeframe, store.path(exchange, pair, stored_timeframe), added,
    )  # fmt: skip


def _timeframe(read: CandleFile, given: str | None, named: str | None) -> str:
    """The timeframe asked for (flag, then name) must be the candles' own spacing."""
    spacing = spacing_seconds(read.candles.index)
    declared = given or named
    if declared is None:
        if spacing is None:
            raise CandleDataError(f"{read.source}: one candle only; give --timeframe")
        return timeframe_name(spacing)
    step = timeframe_seconds(declared)
    if spacing is not None and spacing != step:
        origin = "--timeframe" if given else "the file's name"
        actual = timeframe_name(spacing)
        hint = (
            f"--timeframe {actual} --resample {declared}"
            if step > spacing and step % spacing == 0
            else f"--timeframe {actual}"
        )
        raise CandleDataError(
            f"{read.source}: the candles are {actual} apart, not {declared} as {origin} says "
            f"(use {hint})"
        )
    return declared


def _minute(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d %H:%M}"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
