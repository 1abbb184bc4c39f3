"""The local candle store: one Parquet file per exchange, pair and timeframe under
VOLT_HOME/candles (e.g. candles/binance/BTC_USDT-5m.parquet). The downloader and `import`
write it; backtests, the replay feed and research read it.

Parquet through pyarrow: columnar, compressed, typed, readable by every data tool, and a
time-range read skips row groups it does not need (figures in bench/candle_store.py)."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data.candles.errors import CandleDataError
from data.candles.gaps import find_gaps
from data.candles.names import file_symbol
from data.candles.table import CANDLE_COLUMNS
from data.candles.timeframes import timeframe_seconds

SUFFIX = ".parquet"
_META = b"volt.series"  # exchange|pair|timeframe, so a file names its series exactly


@dataclass(frozen=True)
class SeriesKey:
    exchange: str
    pair: str
    timeframe: str

    @classmethod
    def parse(cls, text: str, exchange: str = "binance") -> SeriesKey:
        """'binance:ETH/BTC:5m', or 'ETH/BTC:5m' on `exchange`."""
        head, _, timeframe = text.rpartition(":")
        named, colon, pair = head.partition(":")
        if colon and "/" not in named:
            exchange = named
        else:
            pair = head
        if not (exchange and pair and timeframe):
            raise CandleDataError(f"series {text!r} must look like binance:BTC/USDT:5m")
        return cls(exchange, pair, timeframe)

    def __str__(self) -> str:
        return f"{self.exchange}:{self.pair}:{self.timeframe}"


@dataclass(frozen=True)
class SeriesInfo:
    exchange: str
    pair: str
    timeframe: str
    first: datetime
    last: datetime
    candles: int
    gaps: int


def empty_candles() -> pd.DataFrame:
    index = pd.DatetimeIndex([], tz="UTC", name="ts").as_unit("us")
    return pd.DataFrame({c: np.array([], dtype=float) for c in CANDLE_COLUMNS}, index=index)


class CandleStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def default(cls) -> CandleStore:
        from data.store.db import volt_home  # the one definition of the runtime directory

        return cls(volt_home() / "candles")

    def path(self, exchange: str, pair: str, timeframe: str) -> Path:
        if not exchange.replace("_", "").replace("-", "").isalnum():
            raise CandleDataError(f"exchange {exchange!r} must be a plain name, e.g. binance")
        timeframe_seconds(timeframe)
        return self.root / exchange.lower() / f"{file_symbol(pair)}-{timeframe}{SUFFIX}"

    def read(
        self,
        exchange: str,
        pair: str,
        timeframe: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """Stored candles with open time in [start, end), oldest first; an empty frame with
        the columns when nothing is stored."""
        path = self.path(exchange, pair, timeframe)
        if not path.exists():
            return empty_candles()
        filters = []
        if start is not None:
            filters.append(("ts", ">=", pd.Timestamp(start)))
        if end is not None:
            filters.append(("ts", "<", pd.Timestamp(end)))
        table = pq.read_table(path, columns=["ts", *CANDLE_COLUMNS], filters=filters or None)
        return _frame(table)

    def write(self, exchange: str, pair: str, timeframe: str, candles: pd.DataFrame) -> int:
        """Merge `candles` into the stored series (a new candle replaces a stored one of the
        same open time) and replace the file atomically. Returns the candles added."""
        path = self.path(exchange, pair, timeframe)
        new = _checked(candles, timeframe, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            old = self.read(exchange, pair, timeframe)
            merged = pd.concat([old, new]) if len(old) else new
            merged = merged[~merged.index.duplicated(keep="last")].sort_index()
            added = len(merged) - len(old)
            if added or len(new):
                _replace(path, merged, SeriesKey(exchange.lower(), pair, timeframe))
        return added

    def last_time(self, exchange: str, pair: str, timeframe: str) -> datetime | None:
        """Open time of the newest stored candle; None when nothing is stored."""
        path = self.path(exchange, pair, timeframe)
        if not path.exists():
            return None
        stamps = pq.read_table(path, columns=["ts"]).column("ts")
        if len(stamps) == 0:
            return None
        return pd.Timestamp(pa.compute.max(stamps).as_py()).tz_convert("UTC").to_pydatetime()

    def series(self) -> list[SeriesInfo]:
        """Every stored series with its span, candle count and number of gaps."""
        found = []
        for path in sorted(self.root.glob(f"*/*{SUFFIX}")):
            key = _key_of(path)
            if key is None:
                continue
            stamps = pq.read_table(path, columns=["ts"]).column("ts").to_pandas()
            if stamps.empty:
                continue
            index = pd.DatetimeIndex(stamps).tz_convert("UTC")
            gaps = find_gaps(pd.DataFrame(index=index), timeframe_seconds(key.timeframe), str(path))
            found.append(
                SeriesInfo(
                    key.exchange,
                    key.pair,
                    key.timeframe,
                    index[0].to_pydatetime(),
                    index[-1].to_pydatetime(),
                    len(index),
                    len(gaps),
                )  # fmt: skip
            )
        return found


def _checked(candles: pd.DataFrame, timeframe: str, path: Path) -> pd.DataFrame:
    """Only sane candles enter the store: the columns, UTC open times on the timeframe's
    grid, one candle per time."""
    missing = [c for c in CANDLE_COLUMNS if c not in candles.columns]
    if missing:
        raise CandleDataError(f"{path}: candles to store lack column(s) {', '.join(missing)}")
    if not isinstance(candles.index, pd.DatetimeIndex) or candles.index.tz is None:
        raise CandleDataError(f"{path}: candles to store need a UTC DatetimeIndex of open times")
    frame = candles[CANDLE_COLUMNS].astype(float)
    frame.index = candles.index.tz_convert("UTC").as_unit("us").rename("ts")
    if frame.index.has_duplicates:
        raise CandleDataError(f"{path}: candles to store repeat an open time")
    frame = frame.sort_index()
    step = timeframe_seconds(timeframe)
    off_grid = frame.index.as_unit("s").asi8 % step != 0
    if step < 604_800 and off_grid.any():  # weeks open on Mondays, not on the epoch's grid
        raise CandleDataError(
            f"{path}: candle at {frame.index[np.argmax(off_grid)]} is not on the {timeframe} grid"
        )
    return frame


def _frame(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    if "ts" in frame.columns:
        frame = frame.set_index("ts")
    frame.index = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("us").rename("ts")
    return frame[CANDLE_COLUMNS].astype(float)


def _replace(path: Path, candles: pd.DataFrame, key: SeriesKey) -> None:
    """Write beside the file, flush to disk, then rename over it: a reader sees the old file
    or the new one, never half of one, and a crash mid-write leaves the old file intact."""
    table = pa.Table.from_pandas(candles.reset_index(), preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), _META: str(key).encode()}
    )
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as sink:
            pq.write_table(table, sink, compression="zstd")
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer per series at a time (the downloader and an import may overlap)."""
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _key_of(path: Path) -> SeriesKey | None:
    metadata = pq.read_schema(path).metadata or {}
    if _META not in metadata:
        return None  # not written by the store
    return SeriesKey.parse(metadata[_META].decode())
