"""Agents vote for every row at once; the live vote is the last row of the same frame."""

import numpy as np
import pandas as pd
import pytest

from agents import TechnicalAgent, latest_vote, weigh_votes
from data.market.indicators import add_indicators
from data.types import Action, Vote, VoteSource
from engine.venues.synthetic import SyntheticFeed
from tests.support.runs import START


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    candles = SyntheticFeed(7, "5m").candles("BTC/USDT", START, 600)
    return add_indicators(candles)


def test_live_vote_equals_the_backtest_row_at_the_same_candle(frame):
    agent = TechnicalAgent()
    whole = agent.vote_frame(frame)
    for end in (100, 250, 420, 600):
        live = latest_vote(agent, frame.iloc[:end])
        row = whole.iloc[end - 1]
        assert live.confidence == pytest.approx(row["confidence"])
        assert live.action.direction == row["direction"]


def test_votes_cover_buy_sell_and_hold_with_readable_rationale(frame):
    agent = TechnicalAgent()
    votes = agent.vote_frame(frame).dropna()
    assert set(votes["direction"]) == {-1, 0, 1}
    assert votes["confidence"].between(0, 1).all()
    vote = latest_vote(agent, frame)
    assert vote.source == VoteSource.RULE
    assert "RSI" in vote.rationale and "MACD" in vote.rationale
    assert {"rsi", "bb_pct", "macd_hist", "atr"} <= set(vote.data)


def test_oversold_below_the_lower_band_is_a_confident_buy():
    row = pd.DataFrame({"rsi": [22.0], "bb_pct": [-0.1], "macd_hist": [0.5], "atr": [2.0]})
    votes = TechnicalAgent().vote_frame(row)
    assert votes["direction"].iloc[0] == 1
    assert votes["confidence"].iloc[0] >= 0.8


def test_warming_up_agent_abstains_instead_of_pretending_to_hold(frame):
    vote = latest_vote(TechnicalAgent(), frame.iloc[:10])
    assert vote.source == VoteSource.ABSTAIN
    assert "warm up" in vote.rationale


def vote(agent, action, confidence, source=VoteSource.RULE):
    return Vote(agent, action, confidence, "because", source)


def test_weighted_score_and_threshold():
    votes = [vote("a", Action.BUY, 0.9), vote("b", Action.SELL, 0.3)]
    result = weigh_votes(votes, {"a": 2.0, "b": 1.0}, threshold=0.4)
    assert result.score == pytest.approx((2 * 0.9 - 1 * 0.3) / 3)
    assert result.action == Action.BUY
    assert weigh_votes(votes, {"a": 1.0, "b": 1.0}, threshold=0.4).action == Action.HOLD


def test_abstaining_agents_drop_out_of_the_weighting():
    votes = [vote("a", Action.SELL, 0.8), vote("llm", Action.HOLD, 0.0, VoteSource.ABSTAIN)]
    result = weigh_votes(votes, {"a": 1.0, "llm": 3.0}, threshold=0.55)
    assert result.score == pytest.approx(-0.8)
    assert result.action == Action.SELL
    assert result.weights == {"a": 1.0, "llm": 0.0}


def test_confidence_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="outside 0..1"):
        Vote("a", Action.BUY, 1.5, "x")


def test_regime_classifies_calm_wild_and_crashing_markets():
    from agents.regime import RegimeAgent, RegimeLimits, classify, regime_name

    limits = RegimeLimits()
    rng = np.random.default_rng(5)
    calm = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 400)))
    burst = np.exp(np.cumsum(rng.normal(0, 0.006, 30)))
    wild = np.concatenate([calm[:370], calm[369] * burst])
    crash = np.concatenate([calm[:390], calm[389] * np.linspace(1, 0.9, 11)[1:]])

    def last_regime(close):
        frame = pd.DataFrame(
            {
                "close": close,
                "high": close * 1.001,
                "low": close * 0.999,
                "open": close,
                "volume": 1.0,
            }
        )
        return regime_name(classify(add_indicators(frame), limits)["regime_code"].iloc[-1])

    assert last_regime(calm) == "normal"
    assert last_regime(wild) == "high_volatility"
    assert last_regime(crash) == "crash"
    frame = pd.DataFrame(
        {"close": crash, "high": crash * 1.001, "low": crash * 0.999, "open": crash, "volume": 1.0}
    )
    vote = latest_vote(RegimeAgent(limits), add_indicators(frame))
    assert vote.action == Action.SELL and vote.confidence == 0.9
    assert vote.rationale.startswith("crash regime")


def test_sentiment_buys_fear_and_sells_greed():
    from agents import SentimentAgent

    rises = np.linspace(100, 110, 120)
    frame = pd.DataFrame(
        {
            "close": np.concatenate([np.full(60, 100.0), rises[:60]]),
            "volume": np.concatenate([np.full(60, 10.0), np.full(60, 30.0)]),
        }
    )
    greedy = latest_vote(SentimentAgent(), frame)
    assert greedy.action == Action.SELL and "greedy" in greedy.rationale
    frame["close"] = 200 - frame["close"]
    fearful = latest_vote(SentimentAgent(), frame)
    assert fearful.action == Action.BUY and "fearful" in fearful.rationale


def test_the_threshold_depends_on_the_regime(trader_factory, store):
    from sqlalchemy import select

    from data.store.models import Decision
    from tests.support.runs import run_ticks

    trader, clock = trader_factory()
    run_ticks(trader, clock, market_hours=24)
    with store[1]() as session:
        pairs = set(session.execute(select(Decision.regime, Decision.threshold)).all())
    thresholds = {"normal": 0.55, "high_volatility": 0.70, "crash": 0.80}
    assert pairs and all(thresholds[regime] == threshold for regime, threshold in pairs)
    assert {"normal", "high_volatility"} <= {regime for regime, _ in pairs}
