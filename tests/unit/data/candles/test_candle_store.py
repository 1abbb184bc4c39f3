"""The candle store: one Parquet file per exchange/pair/timeframe, merged incrementally and
replaced atomically."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from data.candles import CANDLE_COLUMNS, CandleDataError, CandleStore, SeriesKey


def candles(start: str, count: int, close: float = 100.0, step: str = "5min") -> pd.DataFrame:
    index = pd.date_range(start, periods=count, freq=step, tz="UTC", name="ts")
    closes = np.full(count, close)
    return pd.DataFrame(
        {"open": closes, "high": closes + 1, "low": closes - 1, "close": closes,
         "volume": np.ones(count)},
        index=index,
    )[CANDLE_COLUMNS]  # fmt: skip


@pytest.fixture
def store(tmp_path) -> CandleStore:
    return CandleStore(tmp_path / "candles")


def test_one_file_per_exchange_pair_and_timeframe(store, tmp_path):
    assert (
        store.path("binance", "BTC/USDT", "5m") == tmp_path / "candles/binance/BTC_USDT-5m.parquet"
    )
    assert store.path("binance", "BTC/USDT:USDT", "1h").name == "BTC_USDT_USDT-1h.parquet"


def test_the_default_store_lives_in_volt_home(volt_home):
    assert CandleStore.default().root == volt_home / "candles"


def test_nothing_stored_reads_as_an_empty_frame_with_the_columns(store):
    empty = store.read("binance", "BTC/USDT", "5m")
    assert empty.empty and list(empty.columns) == CANDLE_COLUMNS
    assert str(empty.index.tz) == "UTC" and empty.index.name == "ts"
    assert store.last_time("binance", "BTC/USDT", "5m") is None


def test_written_candles_read_back_the_same(store):
    written = candles("2026-01-01", 10)
    assert store.write("binance", "BTC/USDT", "5m", written) == 10
    pd.testing.assert_frame_equal(
        store.read("binance", "BTC/USDT", "5m"), written, check_freq=False
    )


def test_a_second_write_merges_and_counts_only_new_candles(store):
    store.write("binance", "BTC/USDT", "5m", candles("2026-01-01 00:00", 10, close=100))
    added = store.write("binance", "BTC/USDT", "5m", candles("2026-01-01 00:30", 10, close=200))
    stored = store.read("binance", "BTC/USDT", "5m")
    assert added == 6 and len(stored) == 16  # 00:30 to 00:45 were stored already
    assert stored.loc["2026-01-01 00:25", "close"] == 100.0
    assert stored.loc["2026-01-01 00:30", "close"] == 200.0  # the newer candle wins
    assert store.last_time("binance", "BTC/USDT", "5m") == datetime(2026, 1, 1, 1, 15, tzinfo=UTC)


def test_a_time_range_read_is_start_inclusive_end_exclusive(store):
    store.write("binance", "BTC/USDT", "5m", candles("2026-01-01", 12))
    part = store.read(
        "binance", "BTC/USDT", "5m",
        start=datetime(2026, 1, 1, 0, 10, tzinfo=UTC), end=datetime(2026, 1, 1, 0, 25, tzinfo=UTC),
    )  # fmt: skip
    assert list(part.index.strftime("%H:%M")) == ["00:10", "00:15", "00:20"]


def test_a_failed_write_leaves_the_stored_file_whole_and_no_temporary_file(store, monkeypatch):
    store.write("binance", "BTC/USDT", "5m", candles("2026-01-01", 10))
    before = store.path("binance", "BTC/USDT", "5m").read_bytes()
    real_write = pq.write_table

    def crash_midway(table, sink, **kwargs):
        real_write(table.slice(0, 3), sink, **kwargs)  # part of the file is on disk
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        store.write("binance", "BTC/USDT", "5m", candles("2026-01-01 00:50", 10))
    folder = store.path("binance", "BTC/USDT", "5m").parent
    assert store.path("binance", "BTC/USDT", "5m").read_bytes() == before
    assert [p.name for p in folder.iterdir() if p.suffix == ".tmp"] == []


def test_series_lists_span_count_and_gaps(store):
    gappy = pd.concat([candles("2026-01-01 00:00", 5), candles("2026-01-01 01:00", 5)])
    store.write("binance", "ETH/BTC", "5m", gappy)
    store.write("kraken", "BTC/USD", "1h", candles("2026-01-01", 3, step="1h"))
    found = {(s.exchange, s.pair, s.timeframe): s for s in store.series()}
    eth = found[("binance", "ETH/BTC", "5m")]
    assert (eth.candles, eth.gaps) == (10, 1)
    assert (eth.first, eth.last) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 1, 20, tzinfo=UTC),
    )
    assert found[("kraken", "BTC/USD", "1h")].candles == 3


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (candles("2026-01-01 00:02", 3), "not on the 5m grid"),
        (candles("2026-01-01", 3).tz_localize(None), "UTC DatetimeIndex"),
        (candles("2026-01-01", 3).drop(columns="volume"), "lack column(s) volume"),
    ],
)
def test_only_sane_candles_enter_the_store(store, frame, says):
    with pytest.raises(CandleDataError, match=says.replace("(", r"\(").replace(")", r"\)")):
        store.write("binance", "BTC/USDT", "5m", frame)


def test_a_series_key_reads_with_or_without_its_exchange():
    assert SeriesKey.parse("kraken:BTC/USD:1h") == SeriesKey("kraken", "BTC/USD", "1h")
    assert SeriesKey.parse("ETH/BTC:5m") == SeriesKey("binance", "ETH/BTC", "5m")
    assert SeriesKey.parse("binance:BTC/USDT:USDT:1h").pair == "BTC/USDT:USDT"
