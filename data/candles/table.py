"""Rows of a file -> validated candles: numbers, UTC open times, sane prices, one order.

Every fault names its place in the file (a CSV line, a JSON item, a Feather row) so a trader
can open the file and fix it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.candles.errors import CandleDataError

CANDLE_COLUMNS = ["open", "high", "low", "close", "volume"]
# Accepted names of the candle's open time, in the order they are looked for.
TIME_COLUMNS = ("timestamp", "date", "datetime", "time", "ts", "open_time", "open time")


@dataclass(frozen=True)
class CandleFile:
    """Candles read from one file, oldest first, gaps left in; `where(i)` names the file's
    place of candle i (e.g. 'line 4'), for messages about it."""

    source: str
    format: str
    candles: pd.DataFrame
    places: np.ndarray  # the file's place number of each candle
    place_word: str  # line, item, row

    def where(self, i: int) -> str:
        return f"{self.place_word} {self.places[i]}"


def candles_from_table(
    raw: pd.DataFrame, source: str, file_format: str, first_place: int, place_word: str
) -> CandleFile:
    """A table with a time column and open..volume (any case, extra columns ignored)."""
    raw = raw.rename(columns=lambda c: str(c).strip().lower())
    time_column = next((c for c in TIME_COLUMNS if c in raw.columns), None)
    missing = ([] if time_column else ["timestamp (or date)"]) + [
        c for c in CANDLE_COLUMNS if c not in raw.columns
    ]
    if missing:
        raise CandleDataError(
            f"{source}: missing column(s) {', '.join(missing)}; expected timestamp (or date), "
            f"{', '.join(CANDLE_COLUMNS)}"
        )
    if raw.empty:
        raise CandleDataError(
            f"{source}: no candles" + (", only a header" if place_word == "line" else "")
        )
    places = np.arange(len(raw)) + first_place

    def fault(row: int, what: str) -> CandleDataError:
        return CandleDataError(f"{source} {place_word} {places[row]}: {what}")

    values = {column: _numbers(raw[column], column, fault) for column in CANDLE_COLUMNS}
    stamps = _open_times(raw[time_column], time_column, fault)
    _check_prices(values, fault)
    order = _oldest_first(stamps, fault)
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(stamps, name="ts"))[CANDLE_COLUMNS]
    if order is not None:
        frame, places = frame.iloc[order], places[order]
    return CandleFile(source, file_format, frame, places, place_word)


def _numbers(column: pd.Series, name: str, fault: Callable) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        row = bad[0]
        raise fault(row, f"{name} is {column.iloc[row]!r}, not a number")
    return numbers


def _open_times(column: pd.Series, name: str, fault: Callable) -> pd.DatetimeIndex:
    """ISO 8601 text (no zone means UTC), epoch s/ms/us numbers, or Arrow timestamps."""
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = pd.DatetimeIndex(column)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        bad = np.flatnonzero(stamps.isna())
        if len(bad):
            raise fault(bad[0], f"{name} is empty")
        return stamps.as_unit("us")
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all():
        biggest = numeric.abs().max()
        unit = "us" if biggest > 10**14 else "ms" if biggest > 10**11 else "s"
        return pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit, utc=True)).as_unit("us")
    text = column.astype("string").fillna("").str.strip()
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = bad[0]
        raise fault(row, f"{name} {column.iloc[row]!r} is not a date (use ISO 8601 or epoch)")
    return pd.DatetimeIndex(parsed).as_unit("us")


def _check_prices(values: dict[str, np.ndarray], fault: Callable) -> None:
    high, low = values["high"], values["low"]
    for row in np.flatnonzero(high < low)[:1]:
        raise fault(row, f"high {high[row]:g} is below low {low[row]:g}")
    for column in ("open", "close"):
        outside = (values[column] > high) | (values[column] < low)
        for row in np.flatnonzero(outside)[:1]:
            raise fault(row, f"{column} {values[column][row]:g} is outside high..low")
    for row in np.flatnonzero(low <= 0)[:1]:
        raise fault(row, f"low {low[row]:g} is not a positive price")
    for row in np.flatnonzero(values["volume"] < 0)[:1]:
        raise fault(row, f"volume {values['volume'][row]:g} is negative")


def _oldest_first(stamps: pd.DatetimeIndex, fault: Callable) -> np.ndarray | None:
    """None when already oldest first; the reversing order for a file kept newest first (as
    many stock and FX exports are); a fault for a repeated or out-of-order time."""
    if len(stamps) < 2:
        return None
    steps = np.diff(stamps.asi8)
    if (steps < 0).all():
        return np.arange(len(stamps))[::-1]
    for row in np.flatnonzero(steps == 0)[:1]:
        raise fault(row + 1, f"duplicate timestamp {stamps[row + 1]}")
    for row in np.flatnonzero(steps < 0)[:1]:
        raise fault(row + 1, f"timestamp {stamps[row + 1]} is before the previous row's")
    return None
