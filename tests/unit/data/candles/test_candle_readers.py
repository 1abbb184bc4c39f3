"""Every file shape `import` promises to read gives the same candles: UTC open times, oldest
first, float columns."""

import gzip
import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from data.candles import CANDLE_COLUMNS, CandleDataError, read_candle_file

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)
ROWS = [  # open time (ms), open, high, low, close, volume: three 5m candles
    [MS, 100.0, 101.0, 99.0, 100.5, 10.0],
    [MS + 300_000, 100.5, 102.0, 100.0, 101.0, 12.0],
    [MS + 600_000, 101.0, 101.5, 100.2, 100.8, 9.0],
]


def expected() -> pd.DataFrame:
    stamps = [pd.Timestamp(r[0], unit="ms", tz="UTC") for r in ROWS]
    index = pd.DatetimeIndex(stamps, name="ts").as_unit(
        "us"
    )  # pandas 3 and the store: microseconds
    return pd.DataFrame([r[1:] for r in ROWS], columns=CANDLE_COLUMNS, index=index)


def assert_read(path) -> None:
    pd.testing.assert_frame_equal(read_candle_file(path).candles, expected(), check_freq=False)


def csv_lines(time) -> list[str]:
    return [",".join([time(r[0]), *(f"{v:g}" for v in r[1:])]) for r in ROWS]


def test_csv_with_a_timestamp_header_and_iso_times(tmp_path):
    path = tmp_path / "a.csv"
    iso = lambda ms: pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()  # noqa: E731
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(csv_lines(iso)))
    assert_read(path)


def test_csv_with_a_date_column_in_any_case_and_extra_columns(tmp_path):
    path = tmp_path / "a.csv"
    plain = lambda ms: f"{pd.Timestamp(ms, unit='ms'):%Y-%m-%d %H:%M:%S}"  # noqa: E731
    lines = [f"{line},7" for line in csv_lines(plain)]
    path.write_text("Date,Open,High,Low,Close,Volume,Trades\n" + "\n".join(lines))
    assert_read(path)


@pytest.mark.parametrize("unit", [1, 1000, 1_000_000], ids=["seconds", "milliseconds", "us"])
def test_csv_without_a_header_in_epoch_units(tmp_path, unit):
    path = tmp_path / "a.csv"
    path.write_text("\n".join(csv_lines(lambda ms: str(ms * unit // 1000))) + "\n")
    assert_read(path)


def test_headerless_csv_with_binance_extra_columns_keeps_the_first_six(tmp_path):
    path = tmp_path / "BTCUSDT-5m-2026-01.csv"
    path.write_text("\n".join(f"{line},{ms + 299_999},1234.5,42,0,0,0" for line, ms in
                              zip(csv_lines(str), (r[0] for r in ROWS), strict=True)))  # fmt: skip
    assert_read(path)


def test_semicolon_csv_newest_first_is_turned_oldest_first(tmp_path):
    path = tmp_path / "a.csv"
    lines = [line.replace(",", ";") for line in reversed(csv_lines(str))]
    path.write_text("timestamp;open;high;low;close;volume\n" + "\n".join(lines))
    assert_read(path)


def test_a_headerless_line_short_of_six_fields_is_refused(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(f"{MS},1,1,1,1\n")
    with pytest.raises(CandleDataError, match="line 1: 5 fields"):
        read_candle_file(path)


def test_freqtrade_feather(tmp_path):
    path = tmp_path / "ETH_BTC-5m.feather"
    frame = expected().reset_index().rename(columns={"ts": "date"})
    frame.to_feather(path)
    assert_read(path)


def test_parquet_with_the_time_as_index(tmp_path):
    path = tmp_path / "a.parquet"
    expected().to_parquet(path)
    assert_read(path)


def test_ccxt_and_freqtrade_json_arrays(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(ROWS))
    assert_read(path)


def test_gzipped_json(tmp_path):
    path = tmp_path / "ETH_BTC-5m.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump(ROWS, handle)
    assert_read(path)


def test_json_objects_with_named_fields(tmp_path):
    path = tmp_path / "a.json"
    names = ["timestamp", *CANDLE_COLUMNS]
    path.write_text(json.dumps([dict(zip(names, row, strict=True)) for row in ROWS]))
    assert_read(path)


def test_the_format_is_found_from_the_bytes_when_the_name_does_not_say(tmp_path):
    path = tmp_path / "candles.dat"
    expected().to_parquet(path)
    assert read_candle_file(path).format == "parquet"


def test_a_bad_json_item_is_named(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([ROWS[0], [MS + 300_000, 1, 2]]))
    with pytest.raises(CandleDataError, match=r"a.json item 2: .* is not \[timestamp, open"):
        read_candle_file(path)


def test_a_bad_feather_row_is_named(tmp_path):
    path = tmp_path / "a.feather"
    frame = expected().reset_index().rename(columns={"ts": "date"})
    frame.loc[1, "low"] = 500.0
    frame.to_feather(path)
    with pytest.raises(CandleDataError, match="row 2: high 102 is below low 500"):
        read_candle_file(path)


def test_a_file_that_is_not_there_is_named(tmp_path):
    with pytest.raises(CandleDataError, match="nothing.csv: no such file"):
        read_candle_file(tmp_path / "nothing.csv")
