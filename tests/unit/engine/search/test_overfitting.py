"""The deflated Sharpe ratio: a search's best result judged against the luck of its trials."""

import numpy as np
import pytest

from engine.search.overfitting import (
    CONFIDENCE,
    deflated_sharpe,
    expected_max_sharpe,
    judge,
    return_shape,
)


def test_a_return_series_has_its_sharpe_skew_and_kurtosis():
    returns = np.random.default_rng(1).normal(0.001, 0.01, 100_000)
    shape = return_shape(returns)
    assert shape.sharpe == pytest.approx(0.1, abs=0.01)
    assert shape.skew == pytest.approx(0.0, abs=0.05)
    assert shape.kurtosis == pytest.approx(3.0, abs=0.1)
    assert shape.candles == 100_000


def test_a_flat_account_has_no_sharpe_ratio():
    assert return_shape(np.zeros(500)).sharpe == 0.0


def test_the_luck_to_beat_grows_with_the_trials_tried():
    sharpes = list(np.random.default_rng(2).normal(0, 0.02, 50))
    assert expected_max_sharpe(sharpes, 10) < expected_max_sharpe(sharpes, 100)
    assert expected_max_sharpe(sharpes, 100) < expected_max_sharpe(sharpes, 10_000)
    assert expected_max_sharpe([0.1]) == 0.0  # one trial: no selection to deflate


def test_the_best_of_many_noise_strategies_is_flagged_as_overfit():
    rng = np.random.default_rng(3)
    trials = [return_shape(rng.normal(0, 0.01, 2_000)) for _ in range(200)]
    best = max(trials, key=lambda s: s.sharpe)
    verdict = judge(best, [t.sharpe for t in trials])
    assert best.sharpe > 0.05  # it looks good on its own ...
    assert verdict.overfit and verdict.value < CONFIDENCE  # ... but not after 200 tries
    assert "OVERFIT" in verdict.sentence()


def test_a_real_edge_survives_the_deflation():
    rng = np.random.default_rng(4)
    noise = [return_shape(rng.normal(0, 0.01, 5_000)).sharpe for _ in range(50)]
    edge = return_shape(rng.normal(0.002, 0.01, 5_000))  # a Sharpe of 0.2 per candle
    verdict = judge(edge, [*noise, edge.sharpe])
    assert not verdict.overfit and verdict.value > 0.99


def test_pruned_trials_count_as_tried():
    rng = np.random.default_rng(5)
    sharpes = [return_shape(rng.normal(0, 0.01, 1_000)).sharpe for _ in range(20)]
    best = return_shape(rng.normal(0.0006, 0.01, 1_000))
    assert deflated_sharpe(best, sharpes, tried=500) < deflated_sharpe(best, sharpes)
    assert judge(best, sharpes, tried=500).trials == 500
