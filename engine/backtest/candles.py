"""Market data for backtests: a validated CSV of candles, or the seeded synthetic market."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from engine.venues.feed import CANDLE_COLUMNS
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed

CSV_COLUMNS = ["timestamp", *CANDLE_COLUMNS]


class CandleDataError(ValueError):
    """Candles that cannot be backtested; the message names the file, the line and the fault."""


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
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CandleDataError(f"{path}: cannot read it as CSV: {exc}") from exc
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in CSV_COLUMNS if c not in raw.columns]
    if missing:
        raise CandleDataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}"
        )
    if raw.empty:
        raise CandleDataError(f"{path}: no candles, only a header")
    lines = np.arange(len(raw)) + 2

    def fault(row: int, what: str) -> CandleDataError:
        return CandleDataError(f"{path} line {lines[row]}: {what}")

    values = {}
    for column in CANDLE_COLUMNS:
        numbers = pd.to_numeric(raw[column], errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() | ~np.isfinite(numbers.to_numpy()))
        if len(bad):
            row = bad[0]
            raise fault(row, f"{column} is {raw[column].iloc[row]!r}, not a number")
        values[column] = numbers.to_numpy(dtype=float)
    stamps = _timestamps(raw["timestamp"], fault)
    for row in np.flatnonzero(values["high"] < values["low"])[:1]:
        raise fault(row, f"high {values['high'][row]:g} is below low {values['low'][row]:g}")
    for column in ("open", "close"):
        outside = (values[column] > values["high"]) | (values[column] < values["low"])
        for row in np.flatnonzero(outside)[:1]:
            raise fault(row, f"{column} {values[column][row]:g} is outside high..low")
    for row in np.flatnonzero(values["low"] <= 0)[:1]:
        raise fault(row, f"low {values['low'][row]:g} is not a positive price")
    for row in np.flatnonzero(values["volume"] < 0)[:1]:
        raise fault(row, f"volume {values['volume'][row]:g} is negative")
    if len(stamps) > 1:
        steps = np.diff(stamps.as_unit("s").asi8)
        for row in np.flatnonzero(steps == 0)[:1]:
            raise fault(row + 1, f"duplicate timestamp {stamps[row + 1]}")
        for row in np.flatnonzero(steps < 0)[:1]:
            raise fault(row + 1, f"timestamp {stamps[row + 1]} is before the previous row's")
        step = int(pd.Series(steps).mode().iloc[0])
        for row in np.flatnonzero(steps != step)[:1]:
            raise fault(
                row + 1,
                f"gap: {stamps[row + 1]} follows {stamps[row]} ({steps[row]} s; "
                f"the file's candles are {step} s apart)",
            )
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(stamps, name="ts"))
    return frame[CANDLE_COLUMNS]


def _timestamps(column: pd.Series, fault) -> pd.DatetimeIndex:
    text = column.fillna("").str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all():
        unit = "ms" if numeric.abs().max() > 10**11 else "s"
        return pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit, utc=True))
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = bad[0]
        raise fault(row, f"timestamp {column.iloc[row]!r} is not a date (use ISO 8601 or epoch)")
    return pd.DatetimeIndex(parsed)


def csv_market(
    paths: list[str],
    pairs: list[str],
    start: datetime | None,
    end: datetime | None,
    warmup: int,
) -> Market:
    if len(paths) != len(pairs):
        raise CandleDataError(
            f"{len(paths)} CSV file(s) for {len(pairs)} pair(s): give one --data per pair"
        )
    frames = {pair: load_csv(path) for pair, path in zip(pairs, paths, strict=True)}
    steps = {_step(frame) for frame in frames.values()}
    if len(steps) > 1:
        raise CandleDataError(f"the files' candle lengths differ: {sorted(steps)} s")
    common = frames[pairs[0]].index
    for frame in frames.values():
        common = common.intersection(frame.index)
    if len(common) == 0:
        raise CandleDataError("the files share no timestamps")
    frames = {pair: frame.loc[common] for pair, frame in frames.items()}
    source = "csv: " + ", ".join(Path(p).name for p in paths)
    return _span(frames, pairs, steps.pop(), start, end, warmup, source)


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


def _step(frame: pd.DataFrame) -> int:
    if len(frame) < 2:
        return 0
    return int((frame.index[1] - frame.index[0]).total_seconds())


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
