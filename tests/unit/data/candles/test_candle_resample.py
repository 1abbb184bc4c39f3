"""A higher timeframe from a lower one: open first, high max, low min, close last, volume sum;
a bucket missing any candle is dropped."""

import numpy as np
import pandas as pd
import pytest

from data.candles import CANDLE_COLUMNS, CandleDataError, resample


def minutes(start: str, count: int, step: int = 1) -> pd.DataFrame:
    index = pd.date_range(start, periods=count, freq=f"{step}min", tz="UTC", name="ts")
    close = 100.0 + np.arange(count)
    return pd.DataFrame(
        {"open": close - 0.5, "high": close + 1, "low": close - 1, "close": close,
         "volume": np.ones(count)},
        index=index,
    )[CANDLE_COLUMNS]  # fmt: skip


def test_one_minute_to_five_minutes():
    five = resample(minutes("2026-01-01 00:00", 12), 60, "5m")
    assert list(five.index.strftime("%H:%M")) == ["00:00", "00:05"]  # 00:10 is incomplete
    first = five.iloc[0]
    assert list(first) == [99.5, 105.0, 99.0, 104.0, 5.0]


def test_five_minutes_to_an_hour_on_the_clock_hour():
    hours = resample(minutes("2026-01-01 00:30", 36, step=5), 300, "1h")
    assert list(hours.index.strftime("%H:%M")) == ["01:00", "02:00"]  # 00:30-00:55 is partial


def test_a_bucket_over_a_gap_is_dropped():
    candles = minutes("2026-01-01 00:00", 15).drop(pd.Timestamp("2026-01-01 00:07", tz="UTC"))
    five = resample(candles, 60, "5m")
    assert list(five.index.strftime("%H:%M")) == ["00:00", "00:10"]


def test_weeks_open_on_monday():
    days = resample(minutes("2026-01-05", 14 * 24, step=60), 3600, "1w")
    assert list(days.index.day_name()) == ["Monday", "Monday"]


def test_a_lower_or_uneven_timeframe_is_refused():
    with pytest.raises(CandleDataError, match="cannot resample 5m candles to 1m"):
        resample(minutes("2026-01-01", 10, step=5), 300, "1m")
    with pytest.raises(CandleDataError, match="whole multiple"):
        resample(minutes("2026-01-01", 10, step=5), 300, "7m")
