"""The numpy indicators give `ta`'s values, warm-up NaNs included (ATR's warm-up zeros
become NaN, as VOLT has always shown them)."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from ta.momentum import RSIIndicator

from data.market.indicators import (
    INDICATOR_COLUMNS,
    add_indicators,
    add_indicators_with_ta,
    rsi,
)
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.market.trailing import ewm_mean
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed


def candles(seed: int, pair: str, count: int) -> pd.DataFrame:
    until = SYNTHETIC_EPOCH + timedelta(minutes=5 * 3000)
    return SyntheticFeed(seed, "5m").candles(pair, until, count)


def assert_same_as_ta(frame: pd.DataFrame, periods: IndicatorPeriods = DEFAULT_PERIODS) -> None:
    ours, theirs = add_indicators(frame, periods), add_indicators_with_ta(frame, periods)
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_index_equal(ours.index, theirs.index)
    for column in theirs.columns:
        np.testing.assert_allclose(
            ours[column].to_numpy(),
            theirs[column].to_numpy(),
            rtol=1e-9,
            atol=1e-12,
            equal_nan=True,  # NaN only where `ta` has NaN: the NaN masks are compared too
            err_msg=column,
        )


@pytest.mark.parametrize("seed", [1, 7, 42])
@pytest.mark.parametrize("pair", ["BTC/USDT", "XRP/USDT"])
@pytest.mark.parametrize("count", [300, 2000])
def test_indicators_equal_ta_on_seeded_markets(seed, pair, count):
    assert_same_as_ta(candles(seed, pair, count))


@pytest.mark.parametrize(
    "periods",
    [IndicatorPeriods(rsi=5, bollinger=50), IndicatorPeriods(rsi=30, bollinger=8)],
    ids=["rsi5-bands50", "rsi30-bands8"],
)
@pytest.mark.parametrize("count", [4, 5, 6, 7, 8, 9, 29, 30, 31, 49, 50, 300])
def test_configured_periods_give_tas_values(periods, count):
    assert_same_as_ta(candles(9, "SOL/USDT", count), periods)


@pytest.mark.parametrize("count", [1, 2, 13, 14, 15, 19, 20, 26, 33, 34])
def test_warm_up_rows_are_nan_where_ta_has_none(count):
    assert_same_as_ta(candles(3, "ETH/USDT", count))


def test_atr_warm_up_is_nan_not_ta_zeros():
    frame = add_indicators(candles(3, "ETH/USDT", 40))
    assert frame["atr"].iloc[:13].isna().all()
    assert frame["atr"].iloc[13:].gt(0).all()


def test_flat_prices_give_no_band_position_as_in_ta():
    frame = candles(5, "SOL/USDT", 60)
    frame.loc[frame.index[20:45], ["open", "high", "low", "close"]] = 150.0
    assert_same_as_ta(frame)
    assert np.isnan(add_indicators(frame)["bb_pct"].iloc[44])  # 20 equal closes


def test_a_frame_with_a_gap_still_gets_tas_values():
    frame = candles(5, "SOL/USDT", 80)
    frame.loc[frame.index[30], "close"] = np.nan
    assert_same_as_ta(frame)


def test_the_candles_are_not_changed_and_the_columns_are_added_in_order():
    frame = candles(9, "BNB/USDT", 100)
    before = frame.copy()
    out = add_indicators(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.columns) == list(frame.columns) + list(INDICATOR_COLUMNS)


@pytest.mark.parametrize("gaps", [False, True])
def test_ewm_mean_is_pandas_to_the_bit(gaps):
    rng = np.random.default_rng(4)
    values = rng.normal(size=400).cumsum() * 50 + 3000
    values[:7] = np.nan
    values[200:230] = values[199]  # a flat stretch: pandas skips those updates
    if gaps:
        values[rng.random(400) < 0.1] = np.nan
    for keywords in ({"span": 12}, {"span": 200}, {"alpha": 1 / 14}):
        for min_periods in (0, 1, 9, 26):
            ours = ewm_mean(values, min_periods=min_periods, **keywords)
            series = pd.Series(values).ewm(min_periods=min_periods, adjust=False, **keywords)
            np.testing.assert_array_equal(ours, series.mean().to_numpy())


@pytest.mark.parametrize("period", [5, 30])
def test_rsi_is_tas_rsi_for_any_period(period):
    close = candles(11, "BTC/USDT", 500)["close"]
    np.testing.assert_allclose(
        rsi(close.to_numpy(), period),
        RSIIndicator(close, period).rsi().to_numpy(),
        rtol=1e-9,
        atol=1e-12,
        equal_nan=True,  # warm-up NaN exactly where `ta` has it
    )
    assert np.isnan(rsi(close.to_numpy(), period)[: period - 1]).all()
