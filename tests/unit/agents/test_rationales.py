"""Each agent's rationale says what its code computed: the indicator lengths it was given and
the very numbers its vote carries in `data`, recomputed here from the inputs."""

import numpy as np
import pandas as pd
import pytest

from agents.base import vote_from_frame
from agents.regime import RegimeAgent, RegimeLimits
from agents.rsi_rule import RsiRule
from agents.sentiment import SentimentAgent
from agents.technical import TechnicalAgent
from data.market.periods import IndicatorPeriods
from data.types import Action

# Lengths no default uses, so a rationale that names a default is caught.
PERIODS = IndicatorPeriods(rsi=9, bollinger=30, trend_fast=20, trend_slow=100, momentum=6)


def last_vote(agent, columns: dict):
    columns = {key: np.asarray(values, dtype=float) for key, values in columns.items()}
    return vote_from_frame(agent, agent.vote_columns(columns), len(next(iter(columns.values()))))


def test_technical_names_its_rsi_and_band_lengths_and_the_numbers_it_blended():
    # RSI 24 reads (50 - 24) / 25 = 1.04 -> 1.0; %B 0.15 reads 1 - 0.3 = 0.7; the histogram
    # 0.3 against half an ATR of 1.5 reads 0.4: score 0.4 * 1 + 0.4 * 0.7 + 0.2 * 0.4 = 0.76.
    vote = last_vote(
        TechnicalAgent(PERIODS), {"rsi": [24.0], "bb_pct": [0.15], "macd_hist": [0.3], "atr": [1.5]}
    )
    assert vote.action == Action.BUY and vote.confidence == pytest.approx(0.76)
    assert vote.data == {"score": 0.76, "rsi": 24.0, "bb_pct": 0.15, "macd_hist": 0.3, "atr": 1.5}
    assert vote.rationale == (
        "RSI(9) 24.0 (oversold); price 15% of the way up the 30-candle Bollinger bands; "
        "MACD(12,26,9) momentum rising (histogram +0.3, ATR(14) 1.5); score +0.76"
    )


def test_technical_says_when_price_is_outside_the_bands():
    vote = last_vote(
        TechnicalAgent(PERIODS), {"rsi": [81.0], "bb_pct": [1.2], "macd_hist": [-2.0], "atr": [1.0]}
    )
    assert vote.action == Action.SELL
    assert "RSI(9) 81.0 (overbought)" in vote.rationale
    assert "above the upper of the 30-candle Bollinger bands (%B 1.20)" in vote.rationale
    assert "momentum falling (histogram -2," in vote.rationale


def trending_candles(n: int = 400, step: float = 0.5, atr: float = 2.0) -> dict:
    """A steady climb of `step` a candle with a constant ATR: the EMA gap is known."""
    return {"close": 100.0 + step * np.arange(n), "atr": np.full(n, atr)}


def test_regime_names_the_emas_it_compared_and_the_gap_in_atrs():
    candles = trending_candles()
    limits = RegimeLimits()
    vote = last_vote(RegimeAgent(limits, periods=PERIODS), candles)

    close = pd.Series(candles["close"])
    fast = close.ewm(span=20, adjust=False).mean().iloc[-1]
    slow = close.ewm(span=100, adjust=False).mean().iloc[-1]
    gap = (fast - slow) / 2.0
    assert vote.data["trend_strength"] == pytest.approx(gap, abs=1e-6)
    assert gap > limits.trend_threshold and vote.action == Action.BUY
    assert vote.data["drop"] == 0.0  # a climb: the close is the 12-candle high
    assert vote.rationale.startswith(
        f"normal regime: uptrend ({gap:+.1f} ATR between EMA20 and EMA100); "
        f"24-candle volatility {vote.data['vol_ratio']:.2f}x its level over up to 240 candles"
    )
    assert vote.rationale.endswith("+0.0% from the 12-candle high (a crash from -5%)")
    assert "EMA50" not in vote.rationale and "EMA200" not in vote.rationale


def test_regime_in_a_range_names_the_emas_and_the_trend_threshold():
    candles = trending_candles(step=0.001, atr=5.0)
    vote = last_vote(RegimeAgent(RegimeLimits(trend_threshold=2.5), periods=PERIODS), candles)
    gap = vote.data["trend_strength"]
    assert abs(gap) < 2.5 and vote.action == Action.HOLD
    assert f"range (EMA20 and EMA100 {gap:+.1f} ATR apart, under the 2.5 ATR of a trend)" in (
        vote.rationale
    )


def test_regime_in_a_crash_names_the_fall_from_the_crash_windows_high():
    closes = np.concatenate([100.0 + 0.01 * np.arange(390), np.linspace(104, 96, 10)])
    vote = last_vote(
        RegimeAgent(RegimeLimits(crash_window=8), periods=PERIODS),
        {
            "close": closes,
            "atr": np.full(400, 1.0),
        },
    )
    drop = closes[-1] / closes[-8:].max() - 1
    assert vote.action == Action.SELL and vote.data["drop"] == pytest.approx(drop, abs=1e-6)
    assert vote.rationale.startswith("crash regime:")
    assert f"{drop:+.1%} from the 8-candle high (a crash from -5%)" in vote.rationale


def test_sentiment_names_its_momentum_lag_and_baseline_and_the_numbers_it_read():
    rng = np.random.default_rng(3)
    n = 120
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    close[-6:] = close[-7] * np.linspace(1.01, 1.08, 6)  # a sharp six-candle rally
    volume = np.full(n, 10.0)
    volume[-1] = 25.0  # on 2.5x the usual volume
    vote = last_vote(SentimentAgent(PERIODS.momentum), {"close": close, "volume": volume})

    returns = np.diff(np.log(close))
    spread = pd.Series(returns).rolling(48).std().iloc[-1] * np.sqrt(6)
    momentum_z = np.log(close[-1] / close[-7]) / spread
    assert vote.data["momentum_z"] == pytest.approx(momentum_z, abs=1e-5)
    assert vote.data["volume_surge"] == pytest.approx(2.5)
    assert vote.action == Action.SELL  # greed, read contrarian
    assert vote.rationale == (
        f"crowd greedy: time to take profits (mood {vote.data['mood']:+.2f}, acting from "
        f"0.25): 6-candle momentum {momentum_z:+.2f} sigma of 48-candle volatility on 2.50x "
        "the 48-candle median volume (offline proxy from market data)"
    )


def test_rsi_rule_names_its_rsi_length_and_levels():
    vote = last_vote(RsiRule(PERIODS), {"rsi": [27.34]})
    assert vote.action == Action.BUY and vote.data == {"rsi": 27.34}
    assert vote.rationale == "RSI(9) 27.3 (buy below 30, sell above 70)"
