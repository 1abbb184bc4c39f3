"""The chance baseline tells a strategy without information from one that knows the future:
on a random walk and on real candles, random signals get p-values spread over 0..1 (mostly
well above 0.1), signals that peek ahead get p below 0.01."""

import numpy as np
import pytest

from data.stats.backtest_labels import baseline_sentence
from engine.backtest.baseline import Trades, chance_baselines, round_trip_log_cost
from engine.backtest.report import build_report
from tests.support.signal_runs import (
    SignalBacktest,
    look_ahead_signals,
    random_signals,
    random_walk,
    real_series,
)


@pytest.fixture(scope="module")
def walk():
    return SignalBacktest(random_walk(seed=7, n=12_000))


def p_values(backtest: SignalBacktest, direction) -> tuple[float, float]:
    result = backtest.run(direction)
    assert result.stats["trades"] >= 20, "too few trades to judge"
    stats = build_report(result).stats
    return stats["chance_p_value"], stats["shifted_p_value"]


def test_random_signals_on_a_random_walk_get_p_values_spread_over_the_unit_interval(walk):
    found = np.array([p_values(walk, random_signals(seed, 12_000)) for seed in range(30)])
    for method, p in zip(("random entries", "shifted signals"), found.T, strict=True):
        assert np.median(p) > 0.3, f"{method}: median p {np.median(p):.2f}"
        assert np.mean(p < 0.1) <= 0.2, f"{method}: {np.mean(p < 0.1):.0%} below 0.1"


def test_signals_that_peek_ahead_on_a_random_walk_get_p_below_0_01(walk):
    close = walk.candles["close"].to_numpy()
    random_entries, shifted = p_values(walk, look_ahead_signals(close))
    assert random_entries < 0.01 and shifted < 0.01


def test_on_real_candles_random_signals_look_like_chance_and_peeking_does_not():
    series = real_series()
    if not series:
        pytest.skip("no real candles in /work/shared/data/candles")
    chance = []
    for name, candles in series.items():
        backtest = SignalBacktest(candles)
        for seed in range(4):
            chance.append(p_values(backtest, random_signals(seed, len(candles)))[0])
        peeked = p_values(backtest, look_ahead_signals(candles["close"].to_numpy()))
        assert max(peeked) < 0.01, f"{name}: look-ahead p {peeked}"
    assert np.median(chance) > 0.3, f"random signals: median p {np.median(chance):.2f}"
    assert np.mean(np.array(chance) < 0.1) <= 0.25


def test_the_same_seed_gives_the_same_baseline(walk):
    result = walk.run(random_signals(3, 12_000))
    assert build_report(result, seed=5).baselines == build_report(result, seed=5).baselines


def test_a_draw_that_repeats_the_strategys_trades_counts_as_doing_as_well():
    closes = {"X": np.linspace(100, 110, 50)}  # every trade of the same length earns the same
    trades = {"X": Trades(np.array([3, 20]), np.array([8, 25]))}
    random_entries, shifted = chance_baselines(closes, trades, (0, 50), 0.0, draws=99)
    assert random_entries.as_good < 99  # earlier starts earn more on a straight line...
    assert random_entries.p_value == pytest.approx((random_entries.as_good + 1) / 100)
    flat = {"X": np.full(50, 100.0)}
    tied = chance_baselines(flat, trades, (0, 50), 0.0, draws=99)[0]
    assert (tied.as_good, tied.p_value) == (99, 1.0)  # ...on a flat one, all tie


def test_round_trip_cost_is_what_paper_fills_charge():
    # Buy at 100 with 0.05 % slippage and a 0.1 % fee, sell at 110 the same way.
    cost = 100 * 1.0005 * 1.001
    proceeds = 110 * 0.9995 * 0.999
    assert np.exp(np.log(110 / 100) + round_trip_log_cost(0.001, 0.0005)) == pytest.approx(
        proceeds / cost, rel=1e-12
    )


def test_the_verdict_is_printed_as_plainly_as_the_return():
    line = baseline_sentence(
        {"method": "random entries", "draws": 200, "as_good": 74, "p_value": 0.373, "trades": 9}
    )
    assert line == (
        "Chance baseline: 37 % of 200 random-entry runs did as well (p = 0.373) "
        "— no evidence the timing beats chance"
    )
    strong = baseline_sentence(
        {"method": "random entries", "draws": 200, "as_good": 0, "p_value": 1 / 201, "trades": 9}
    )
    assert strong.endswith("(p = 0.005) — strong evidence the timing beats chance")
    assert baseline_sentence(None) == "Chance baseline: no trades, so no timing to judge"
