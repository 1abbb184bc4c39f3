"""Read candles from the files other tools leave behind: CSV (header or not), freqtrade's
Feather and JSON, ccxt's fetch_ohlcv dumps, and Parquet (VOLT's own store among them)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa

from data.candles.errors import CandleDataError
from data.candles.table import CANDLE_COLUMNS, TIME_COLUMNS, CandleFile, candles_from_table

FORMATS = ("csv", "json", "feather", "parquet")
_BY_SUFFIX = {
    ".csv": "csv", ".txt": "csv", ".json": "json", ".feather": "feather", ".arrow": "feather",
    ".ipc": "feather", ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip
ROW_COLUMNS = ["timestamp", *CANDLE_COLUMNS]  # a headerless CSV line, a ccxt/freqtrade JSON item


def read_candle_file(path: str | Path) -> CandleFile:
    """The file's candles, validated and oldest first, with gaps left in for a policy to judge."""
    path = Path(path)
    if not path.is_file():
        raise CandleDataError(f"{path}: no such file")
    file_format = file_format_of(path)
    if file_format == "csv":
        return _read_csv(path)
    if file_format == "json":
        return _read_json(path)
    reader = pd.read_feather if file_format == "feather" else pd.read_parquet
    try:
        table = reader(path)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise CandleDataError(f"{path}: cannot read it as {file_format}: {exc}") from exc
    if isinstance(table.index, pd.DatetimeIndex):  # a pandas-written file keeps time as index
        table = table.reset_index()
    return candles_from_table(table, str(path), file_format, 1, "row")


def file_format_of(path: Path) -> str:
    """By the name (a .gz suffix aside), else by the first bytes."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in _BY_SUFFIX:
        return _BY_SUFFIX[suffixes[-1]]
    with _open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "feather"
    if head.lstrip()[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def _open(path: Path, mode: str):
    if path.suffix.lower() == ".gz":
        return gzip.open(path, mode)
    return open(path, mode)  # noqa: SIM115 - the caller closes it


def _read_csv(path: Path) -> CandleFile:
    try:
        with _open(path, "rt") as handle:
            first = next((line for line in handle if line.strip()), "")
        if not first:
            raise CandleDataError(f"{path}: empty file, no candles")
        delimiter = max(",;\t|", key=first.count)
        fields = next(csv.reader([first], delimiter=delimiter))
        fields = [f.strip().strip('"').lower() for f in fields]
        has_header = any(f in TIME_COLUMNS or f in CANDLE_COLUMNS for f in fields)
        if not has_header and not _is_number(fields[1] if len(fields) > 1 else ""):
            has_header = True  # names we do not know: the missing-column message says which
        if not has_header and len(fields) < len(ROW_COLUMNS):
            raise CandleDataError(
                f"{path} line 1: {len(fields)} fields; a CSV without a header needs "
                f"{', '.join(ROW_COLUMNS)} in that order"
            )
        raw = pd.read_csv(
            path,
            sep=delimiter,
            dtype=str,
            skipinitialspace=True,
            header=0 if has_header else None,
            usecols=None if has_header else range(len(ROW_COLUMNS)),
            names=None if has_header else ROW_COLUMNS,
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CandleDataError(f"{path}: cannot read it as CSV: {exc}") from exc
    return candles_from_table(raw, str(path), "csv", 2 if has_header else 1, "line")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_json(path: Path) -> CandleFile:
    """An array of [ms, open, high, low, close, volume] (ccxt's fetch_ohlcv, freqtrade's
    json), or an array of objects with named fields."""
    try:
        with _open(path, "rt") as handle:
            items = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CandleDataError(f"{path}: cannot read it as JSON: {exc}") from exc
    if not isinstance(items, list):
        raise CandleDataError(
            f"{path}: expected a JSON array of candles, found {type(items).__name__}"
        )
    if not items:
        raise CandleDataError(f"{path}: no candles")
    if all(isinstance(item, dict) for item in items):
        return candles_from_table(pd.DataFrame.from_records(items), str(path), "json", 1, "item")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, list) or len(item) < len(ROW_COLUMNS):
            raise CandleDataError(
                f"{path} item {number}: {json.dumps(item)[:60]} is not [{', '.join(ROW_COLUMNS)}]"
            )
    rows = pd.DataFrame([item[: len(ROW_COLUMNS)] for item in items], columns=ROW_COLUMNS)
    return candles_from_table(rows, str(path), "json", 1, "item")
