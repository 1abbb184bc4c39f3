"""The live loop computes only the last row (`LAST_ROW`): it must equal the last row of
every column computed in full (`EVERY_ROW`), warm-up NaNs included, for every window
length the loop can see, for the indicators and for every rule agent's vote."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from agents import RegimeAgent, SentimentAgent, TechnicalAgent
from agents.base import vote_from_frame
from agents.rsi_rule import RsiRule
from data.market.indicators import INDICATOR_COLUMNS, add_indicators_over_windows, indicator_arrays
from data.market.rows import EVERY_ROW, LAST_ROW
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed

AGENTS = [RegimeAgent(), SentimentAgent(), TechnicalAgent(), RsiRule()]
# Every warm-up edge: RSI and ATR 14, Bollinger 20, MACD 26 and 34, sentiment 48 and 49,
# regime 24, 48 and 241 returns; then the live window (300) and a longer catch-up.
LENGTHS = [1, 2, 12, 13, 14, 15, 19, 20, 21, 25, 26, 33, 34, 35, 48, 49, 50, 97, 241, 242, 300]


def market(seed: int, pair: str, count: int = 300) -> pd.DataFrame:
    until = SYNTHETIC_EPOCH + timedelta(minutes=5 * 3000)  # 3000 candles exist before it
    return SyntheticFeed(seed, "5m").candles(pair, until, count)


def assert_last_row(every: dict, last: dict, label: str) -> None:
    for name, values in every.items():
        ours = np.asarray(last[name], dtype=float)
        assert ours.shape == (1,), f"{label} {name}: one value, not {ours.shape}"
        np.testing.assert_allclose(
            ours,
            np.asarray(values, dtype=float)[-1:],
            rtol=1e-9,
            atol=1e-12,
            equal_nan=True,  # a NaN (warming up) on one side only fails
            err_msg=f"{label} {name}",
        )


@pytest.mark.parametrize("seed, pair", [(1, "BTC/USDT"), (7, "XRP/USDT"), (42, "ETH/USDT")])
def test_the_last_row_alone_equals_every_rows_last(seed, pair):
    candles = market(seed, pair)
    for length in LENGTHS:
        window = candles.iloc[-length:]
        every, last = indicator_arrays(window), indicator_arrays(window, LAST_ROW)
        label = f"{length} candles:"
        assert_last_row({k: every[k] for k in INDICATOR_COLUMNS}, last, label)
        for name in ("open", "high", "low", "close", "volume"):  # the candles stay whole
            np.testing.assert_array_equal(last[name], every[name])
        for agent in AGENTS:
            assert_last_row(
                agent.vote_columns(every),
                agent.vote_columns(last, LAST_ROW),
                f"{label} {agent.name}",
            )


def test_the_votes_read_from_the_last_row_are_the_same_votes():
    window = market(3, "SOL/USDT")
    every, last = indicator_arrays(window), indicator_arrays(window, LAST_ROW)
    for agent in AGENTS:
        full = vote_from_frame(agent, agent.vote_columns(every), len(window))
        ours = vote_from_frame(agent, agent.vote_columns(last, LAST_ROW), len(window))
        assert (ours.action, ours.source, ours.rationale) == (
            full.action,
            full.source,
            full.rationale,
        )
        assert ours.confidence == pytest.approx(full.confidence, rel=1e-9, abs=1e-12)
        assert ours.data == pytest.approx(full.data, rel=1e-6, abs=1e-6)  # stored to 6 places


@pytest.mark.parametrize("seed", range(1, 9))
def test_a_flat_last_band_window_after_a_busy_market_is_flat_in_both(seed):
    """20 equal closes at a price no binary fraction holds (3077.9): pandas' running sums
    leave a spread of 1e-5 there, and a plain sum one of 1e-13; both must say 0, so the
    price has no band position (the technical agent abstains) live and in a backtest."""
    window = market(seed, "ETH/USDT").copy()
    price = round(float(window["close"].iloc[-21]), 2)
    window.iloc[-20:, :4] = price  # open, high, low, close
    every, last = indicator_arrays(window), indicator_arrays(window, LAST_ROW)
    assert_last_row({k: every[k] for k in INDICATOR_COLUMNS}, last, "flat tail")
    assert np.isnan(last["bb_pct"][0]) and last["bb_middle"][0] == price
    technical = TechnicalAgent()
    assert_last_row(technical.vote_columns(every), technical.vote_columns(last, LAST_ROW), "")
    over_windows = add_indicators_over_windows(window, 300)
    assert np.isnan(over_windows["bb_pct"].iloc[-1])


@pytest.mark.parametrize("length", [60, 300])
def test_a_window_flat_throughout_gives_the_same_votes(length):
    window = market(4, "XRP/USDT", length).copy()
    window.iloc[:, :4] = 3.7  # no range at all: ATR 0, MACD 0, no bands
    every, last = indicator_arrays(window), indicator_arrays(window, LAST_ROW)
    assert_last_row({k: every[k] for k in INDICATOR_COLUMNS}, last, "flat")
    assert last["macd"][0] == 0.0 and last["atr"][0] == 0.0
    for agent in AGENTS:
        assert_last_row(agent.vote_columns(every), agent.vote_columns(last, LAST_ROW), agent.name)


def test_a_long_catch_up_window_equals_every_row():
    window = market(6, "SOL/USDT", 2500)  # the weights are O(n): no n-by-n matrix
    every, last = indicator_arrays(window), indicator_arrays(window, LAST_ROW)
    assert_last_row({k: every[k] for k in INDICATOR_COLUMNS}, last, "2500 candles")


def test_a_flat_run_and_a_gap_give_the_same_values():
    window = market(5, "BNB/USDT").copy()
    window.loc[window.index[200:230], ["open", "high", "low", "close"]] = 310.0  # flat
    every, last = indicator_arrays(window), indicator_arrays(window, LAST_ROW)
    assert_last_row({k: every[k] for k in INDICATOR_COLUMNS}, last, "flat")
    gapped = window.copy()
    gapped.loc[gapped.index[250], "close"] = np.nan  # `ta` computes a frame with gaps
    every, last = indicator_arrays(gapped), indicator_arrays(gapped, LAST_ROW)
    assert_last_row({k: every[k] for k in INDICATOR_COLUMNS}, last, "gap")
    for agent in AGENTS:
        assert_last_row(
            agent.vote_columns(every), agent.vote_columns(last, LAST_ROW), f"gap {agent.name}"
        )


def test_every_row_is_the_default():
    window = market(9, "BTC/USDT", 60)
    for agent in AGENTS:
        columns = agent.vote_columns(indicator_arrays(window))
        assert len(np.asarray(columns["direction"])) == 60
    assert EVERY_ROW.lag(np.arange(5.0), 2).tolist()[2:] == [0.0, 1.0, 2.0]


def test_a_trailing_window_is_refused_for_the_last_row_alone():
    window = indicator_arrays(market(2, "BTC/USDT"), LAST_ROW)
    with pytest.raises(ValueError, match="trailing window"):
        RegimeAgent(window=300).vote_columns(window, LAST_ROW)
