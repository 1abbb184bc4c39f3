"""The team's warm-up is computed from its agents and limits: the longest window it reads."""

import numpy as np
import pandas as pd
import pytest

from agents import RegimeLimits, build_team
from agents.regime import classify
from agents.warmup import decision_warmup, team_warmup, warmup_parts
from data.market.indicators import INDICATOR_COLUMNS, INDICATOR_WARMUP, add_indicators

DEFAULT = {"technical": 1.0, "regime": 0.5, "sentiment": 0.5}


def candles(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": rng.uniform(1, 2, n),
        },
        index=index,
    )


def test_the_indicators_warm_up_on_the_candle_the_last_of_them_fills():
    frame = add_indicators(candles(100))
    warm = frame[list(INDICATOR_COLUMNS)].notna().all(axis=1).to_numpy()
    assert warm[INDICATOR_WARMUP - 1 :].all()
    assert not warm[INDICATOR_WARMUP - 2]  # the MACD signal's ninth value is the last
    assert INDICATOR_WARMUP == 34


def test_the_default_team_on_300_candles_waits_for_the_regimes_volatility_baseline():
    team = build_team(DEFAULT, RegimeLimits(), window=300)
    parts = warmup_parts(team, RegimeLimits(), 300)
    assert parts == {
        "indicators": 34,
        "regime reading": 241,  # 240 returns for the long-run volatility
        "technical": 34,
        "regime": 241,
        "sentiment": 49,  # 48 returns for its baselines
    }
    assert team_warmup(team, RegimeLimits(), 300) == 241


def test_the_regime_reading_counts_even_when_the_regime_agent_has_no_weight():
    # Its reading sets every decision's threshold: the slow EMA's 200 candles on 200.
    team = build_team({"technical": 1.0}, RegimeLimits(), window=200)
    assert [agent.name for agent in team] == ["technical"]
    assert team_warmup(team, RegimeLimits(), 200) == 200


def test_a_longer_crash_window_lengthens_the_warm_up():
    limits = RegimeLimits(crash_window=400)
    assert team_warmup(build_team(DEFAULT, limits, window=500), limits, 500) == 400


def test_no_agent_still_abstains_on_the_first_warm_candle():
    frame = add_indicators(candles(400))
    team = build_team(DEFAULT, RegimeLimits(), window=None)
    first = team_warmup(team, RegimeLimits(), 300) - 1
    for agent in team:
        votes = agent.vote_frame(frame)
        assert not votes["confidence"].iloc[first:].isna().any(), agent.name
    assert not np.isnan(classify(frame, RegimeLimits())["regime_code"].to_numpy()[first:]).any()


@pytest.mark.parametrize(("window", "expected"), [(300, 241), (120, 120)])
def test_a_decision_waits_for_the_warm_up_or_a_full_window_when_shorter(window, expected):
    team = build_team(DEFAULT, RegimeLimits(), window=window)
    assert decision_warmup(team, RegimeLimits(), window) == expected
