"""Missing candles are found (where, how long, how many) and handled by a stated policy."""

import pandas as pd
import pytest

from data.candles import (
    CANDLE_COLUMNS,
    CandleDataError,
    CandleGapError,
    apply_gap_policy,
    fill_gaps,
    find_gaps,
    split_at_gaps,
)

STEP = 300


def candles(minutes: list[int]) -> pd.DataFrame:
    index = pd.DatetimeIndex(
        [pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=m) for m in minutes], name="ts"
    )
    closes = [100.0 + i for i in range(len(minutes))]
    return pd.DataFrame(
        {"open": closes, "high": [c + 1 for c in closes], "low": [c - 1 for c in closes],
         "close": closes, "volume": [5.0] * len(minutes)},
        index=index,
    )[CANDLE_COLUMNS]  # fmt: skip


GAPPY = candles([0, 5, 20, 25, 30, 45])  # 10 and 15 missing, then 35 and 40


def test_a_gap_says_where_how_long_and_how_many_candles():
    first, second = find_gaps(GAPPY, STEP)
    assert (first.last, first.resumes) == (GAPPY.index[1], GAPPY.index[2])
    assert (first.missing, first.duration) == (2, pd.Timedelta(minutes=10))
    assert str(first) == "2 candles missing from 2026-01-01 00:10 to 2026-01-01 00:20 (10m)"
    assert second.position == 5


def test_a_series_without_gaps_has_none():
    assert find_gaps(candles([0, 5, 10]), STEP) == []


def test_a_candle_off_the_timeframes_grid_is_a_fault_not_a_gap():
    with pytest.raises(CandleDataError, match="off the 5m grid"):
        find_gaps(candles([0, 5, 12]), STEP)


def test_refuse_names_the_first_gap():
    with pytest.raises(CandleGapError) as caught:
        apply_gap_policy(GAPPY, STEP, "refuse", "a.csv", lambda i: f"line {i + 2}")
    message = str(caught.value)
    assert message.startswith("a.csv line 4: gap: 2026-01-01 00:20:00+00:00 follows")
    assert "10m, 2 candle(s) missing" in message and "2 gap(s) in all" in message


def test_refuse_passes_a_series_without_gaps_unchanged():
    whole = candles([0, 5, 10])
    assert apply_gap_policy(whole, STEP, "refuse") is whole


def test_fill_adds_flat_candles_at_the_previous_close_with_zero_volume():
    filled = fill_gaps(GAPPY, STEP)
    assert len(filled) == 10
    assert (filled.index.to_series().diff().dropna() == pd.Timedelta(minutes=5)).all()
    hole = filled.loc["2026-01-01 00:10"]
    previous_close = GAPPY["close"].iloc[1]
    assert list(hole) == [previous_close] * 4 + [0.0]
    pd.testing.assert_frame_equal(filled.loc[GAPPY.index], GAPPY, check_freq=False)


def test_split_gives_gap_free_segments_each_usable_alone():
    segments = split_at_gaps(GAPPY, STEP)
    assert [len(s) for s in segments] == [2, 3, 1]
    assert all(find_gaps(s, STEP) == [] for s in segments)
    pd.testing.assert_frame_equal(pd.concat(segments), GAPPY)


def test_split_policy_keeps_the_real_candles():
    assert apply_gap_policy(GAPPY, STEP, "split") is GAPPY


def test_an_unknown_policy_is_refused():
    with pytest.raises(CandleDataError, match="gap policy 'guess' is not one of refuse"):
        apply_gap_policy(GAPPY, STEP, "guess")
