"""The backtest reads files and stored series through the candle readers, with a gap policy."""

import pandas as pd
import pytest

from data.candles import CandleGapError, CandleStore, SeriesKey
from engine.backtest.candles import load_candles, load_segments, store_market


def candles(start: str, count: int) -> pd.DataFrame:
    index = pd.date_range(start, periods=count, freq="5min", tz="UTC", name="ts")
    return pd.DataFrame(
        {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0}, index=index
    )


@pytest.fixture
def store(tmp_path) -> CandleStore:
    store = CandleStore(tmp_path / "store")
    gappy = pd.concat([candles("2026-01-01 00:00", 4), candles("2026-01-01 00:30", 6)])
    store.write("binance", "ETH/BTC", "5m", gappy)
    store.write("binance", "LTC/BTC", "5m", candles("2026-01-01 00:00", 12))
    return store


def test_a_stored_series_with_gaps_is_refused_by_default(store):
    with pytest.raises(CandleGapError, match="binance:ETH/BTC:5m: gap: 2026-01-01 00:30"):
        load_candles(SeriesKey("binance", "ETH/BTC", "5m"), store=store)


def test_fill_and_segments_of_a_stored_series(store):
    key = SeriesKey("binance", "ETH/BTC", "5m")
    assert len(load_candles(key, gaps="fill", store=store)) == 12
    assert [len(s) for s in load_segments(key, store=store)] == [4, 6]


def test_a_split_market_backtests_the_longest_shared_segment(store):
    market = store_market("binance", ["ETH/BTC", "LTC/BTC"], "5m", None, None, 0, "split", store)
    assert len(market.index) == 6 and market.index[0] == pd.Timestamp("2026-01-01 00:30", tz="UTC")
    assert "longest of 2 gap-free segments" in market.source


def test_nothing_stored_says_how_to_bring_candles_in(store):
    with pytest.raises(Exception, match="no stored candles; .*engine import"):
        load_candles(SeriesKey("binance", "XRP/BTC", "5m"), store=store)
