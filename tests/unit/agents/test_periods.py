"""Indicator periods other than the defaults reach every agent, live and in backtests alike:
a backtest's votes on every row equal what the live Team reads from each trailing window's
last row, the warm-ups follow the configured lengths, and the rationales name them."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from agents import RegimeLimits, build_team
from agents.base import vote_from_frame
from agents.regime import regime_columns
from agents.warmup import team_warmup, warmup_parts
from data.market.indicators import INDICATOR_COLUMNS, indicator_arrays
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.market.rows import LAST_ROW
from engine.backtest.signals import team_votes
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed

TEAM = {"technical": 1.0, "regime": 0.5, "sentiment": 0.5}
OTHER = IndicatorPeriods(rsi=7, bollinger=35, trend_fast=15, trend_slow=110, momentum=5)
WINDOW = 150  # the live loop's history_candles in these tests


def market(seed: int, pair: str, count: int) -> pd.DataFrame:
    until = SYNTHETIC_EPOCH + timedelta(minutes=5 * 3000)
    return SyntheticFeed(seed, "5m").candles(pair, until, count)


def live_votes(candles: pd.DataFrame, periods: IndicatorPeriods) -> dict[str, tuple]:
    """What decide.Team reads on the last candle: each agent's direction and confidence,
    and the regime code, from the last row alone."""
    limits = RegimeLimits()
    team = build_team(TEAM, limits, periods=periods)
    columns = indicator_arrays(candles, LAST_ROW, periods)
    out = {}
    for agent in team:
        votes = agent.vote_columns(columns, LAST_ROW)
        out[agent.name] = (float(votes["direction"][-1]), float(votes["confidence"][-1]))
    code = regime_columns(columns, limits, rows=LAST_ROW, periods=periods)["regime_code"]
    out["regime code"] = (float(code[-1]),)
    return out


def backtest_votes(candles: pd.DataFrame, periods: IndicatorPeriods):
    limits = RegimeLimits()
    team = build_team(TEAM, limits, window=WINDOW, periods=periods)
    return team_votes(candles, team, limits, WINDOW, periods=periods)


@pytest.mark.parametrize(("seed", "pair"), [(2, "BTC/USDT"), (8, "SOL/USDT")])
def test_backtest_votes_equal_the_live_last_row_votes_with_other_periods(seed, pair):
    candles = market(seed, pair, 700)
    votes = backtest_votes(candles, OTHER)
    rows = [5, 6, 34, 35, 60, 109, 110, WINDOW - 1, WINDOW, 400, 699]
    for row in rows:
        live = live_votes(candles.iloc[max(0, row - WINDOW + 1) : row + 1], OTHER)
        ours = {name: (votes.directions[name][row], votes.confidences[name][row]) for name in TEAM}
        ours["regime code"] = (votes.regime_code[row],)
        for name, expected in live.items():
            np.testing.assert_allclose(
                ours[name], expected, rtol=1e-9, atol=1e-12, equal_nan=True,
                err_msg=f"row {row} {name}",
            )  # fmt: skip


def test_other_periods_change_every_agents_votes():
    candles = market(2, "BTC/USDT", 700)
    ours, default = backtest_votes(candles, OTHER), backtest_votes(candles, DEFAULT_PERIODS)
    for name in TEAM:
        assert not np.array_equal(ours.confidences[name][200:], default.confidences[name][200:]), (
            name
        )
    assert not np.array_equal(ours.frame["rsi"], default.frame["rsi"])
    assert not np.array_equal(ours.frame["bb_pct"], default.frame["bb_pct"], equal_nan=True)
    # MACD and ATR stay fixed whatever the configured lengths.
    for column in ("macd", "macd_signal", "atr"):
        np.testing.assert_array_equal(ours.frame[column], default.frame[column])


@pytest.mark.parametrize("length", [5, 6, 7, 8, 34, 35, 36, 110, 111, 300])
def test_the_last_row_alone_equals_every_rows_last_with_other_periods(length):
    window = market(5, "ETH/USDT", 300).iloc[-length:]
    every, last = indicator_arrays(window, periods=OTHER), indicator_arrays(window, LAST_ROW, OTHER)
    for name in INDICATOR_COLUMNS:
        np.testing.assert_allclose(
            last[name], every[name][-1:], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name
        )
    for agent in build_team(TEAM, RegimeLimits(), periods=OTHER):
        full = agent.vote_columns(every)
        ours = agent.vote_columns(last, LAST_ROW)
        for key, values in full.items():
            np.testing.assert_allclose(
                np.asarray(ours[key], dtype=float),
                np.asarray(values, dtype=float)[-1:],
                rtol=1e-9, atol=1e-12, equal_nan=True,
                err_msg=f"{length} candles {agent.name} {key}",
            )  # fmt: skip


def test_the_warm_up_follows_the_configured_lengths():
    periods = IndicatorPeriods(rsi=40, bollinger=60, trend_fast=30, trend_slow=400, momentum=70)
    team = build_team(TEAM, RegimeLimits(), window=500, periods=periods)
    assert warmup_parts(team, RegimeLimits(), 500, periods) == {
        "indicators": 60,  # the bands' 60 candles; RSI's 40 changes need 41
        "regime reading": 400,  # the slow EMA's span
        "technical": 60,
        "regime": 400,
        "sentiment": 71,  # 70 candles of momentum lag, one more for its first return
    }
    assert team_warmup(team, RegimeLimits(), 500, periods) == 400


def test_the_default_periods_warm_up_as_before():
    team = build_team(TEAM, RegimeLimits(), window=300)
    assert warmup_parts(team, RegimeLimits(), 300) == warmup_parts(
        team, RegimeLimits(), 300, DEFAULT_PERIODS
    )
    assert team_warmup(team, RegimeLimits(), 300) == 241


def test_the_rationales_name_the_configured_lengths():
    candles = market(2, "BTC/USDT", 300)
    team = {agent.name: agent for agent in build_team(TEAM, RegimeLimits(), periods=OTHER)}
    columns = indicator_arrays(candles, periods=OTHER)
    sentiment = vote_from_frame(team["sentiment"], team["sentiment"].vote_columns(columns), 300)
    assert "5-candle momentum" in sentiment.rationale
    regime = team["regime"]
    row = {key: 2.5 for key in ("trend_strength", "vol_ratio")} | {
        "regime_code": 0.0,
        "drop": -0.01,
    }
    assert "ATR between EMA15 and EMA110" in regime.rationale(row)
