"""A search's vote cache: each agent's votes computed once per distinct set of the lengths it
reads, shared by every trial, and equal to the last bit to votes computed afresh."""

import numpy as np
import pytest

from config import Settings
from config.search_space import apply_params
from engine.backtest.candles import synthetic_market
from engine.backtest.runner import prepare
from engine.backtest.vote_cache import VoteCache

TRIALS = (
    {},
    {"indicators.rsi_period": 9},
    {"indicators.rsi_period": 9, "indicators.trend_slow_span": 150},
    {"indicators.momentum_window": 6, "indicators.bollinger_period": 30},
    {},
)


@pytest.fixture(scope="module")
def market():
    return synthetic_market(5, ["BTC/USDT", "ETH/USDT"], "5m", None, None, 300)


def test_cached_votes_equal_votes_computed_afresh(market):
    cache = VoteCache()
    for params in TRIALS:
        settings = apply_params(Settings(), params)
        fresh = prepare(settings, market, all_agents=True)
        cached = prepare(settings, market, all_agents=True, cache=cache)
        for pair in market.pairs:
            a, b = fresh.votes[pair], cached.votes[pair]
            np.testing.assert_array_equal(a.regime_code, b.regime_code)
            for agent in a.directions:
                np.testing.assert_array_equal(a.directions[agent], b.directions[agent])
                np.testing.assert_array_equal(a.confidences[agent], b.confidences[agent])
            for column in ("open", "high", "low", "close", "atr"):
                np.testing.assert_array_equal(a.frame[column], b.frame[column])


def test_a_trial_recomputes_only_the_agents_whose_lengths_changed(market):
    cache = VoteCache()
    prepare(Settings(), market, all_agents=True, cache=cache)
    first = cache.computed  # 3 agents and the regime reading, per pair
    assert first == 4 * len(market.pairs)
    prepare(
        apply_params(Settings(), {"indicators.rsi_period": 9}), market, all_agents=True, cache=cache
    )
    assert cache.computed - first == len(market.pairs)  # the technical agent's alone
    prepare(Settings(), market, all_agents=True, cache=cache)
    assert cache.computed - first == len(market.pairs)  # all reused


def test_the_cache_drops_its_oldest_votes_past_its_size(market):
    cache = VoteCache(max_bytes=1)
    for rsi in (9, 10, 11):
        prepare(
            apply_params(Settings(), {"indicators.rsi_period": rsi}),
            market,
            all_agents=True,
            cache=cache,
        )
    assert len(cache) == 1
