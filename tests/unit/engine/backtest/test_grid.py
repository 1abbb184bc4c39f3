"""The RSI rule's parameter grid: every combination's profit and trades as vectorbt's
broadcast from_signals gives them, and by hand on candles whose trades are known."""

import warnings

import numpy as np
import pandas as pd
import pytest

from data.market.indicators import rsi
from engine.backtest.grid import _sweep, rsi_grid

PERIODS, ENTRIES, EXITS, FEE = (5, 9, 14), (20, 30, 40), (60, 70, 80), 0.001


@pytest.fixture(scope="module")
def close():
    return 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.004, 2_000)))


def vectorbt_profits(close):
    import vectorbt as vbt  # a test-only dependency (requirements.txt)

    entries, exits = [], []
    for period in PERIODS:
        values = rsi(close, period)
        for entry in ENTRIES:
            for exit_ in EXITS:
                entries.append(values < entry)
                exits.append(values > exit_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        portfolio = vbt.Portfolio.from_signals(
            pd.Series(close),
            pd.DataFrame(np.column_stack(entries)),
            pd.DataFrame(np.column_stack(exits)),
            size=1.0,
            size_type="amount",
            fees=FEE,
            init_cash=1e12,
            accumulate=False,
            direction="longonly",
            freq="5min",
        )
        return portfolio.total_profit().to_numpy(), portfolio.trades.count().to_numpy()


def test_every_combination_equals_vectorbts_profit_and_trades(close):
    grid = rsi_grid(close, PERIODS, ENTRIES, EXITS, FEE)
    profits, trades = vectorbt_profits(close)
    assert len(grid.profit) == len(PERIODS) * len(ENTRIES) * len(EXITS)
    np.testing.assert_allclose(grid.profit, profits, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(grid.trades, trades)
    assert grid.profit.std() > 0  # the combinations differ: the grid is not one rule repeated


def test_both_find_the_same_best_combination(close):
    grid = rsi_grid(close, PERIODS, ENTRIES, EXITS, FEE)
    profits, _ = vectorbt_profits(close)
    assert int(np.argmax(grid.profit)) == int(np.argmax(profits))
    period, entry, exit_, profit = grid.best()
    assert (period, entry, exit_) in {(p, e, x) for p in PERIODS for e in ENTRIES for x in EXITS}
    assert profit == pytest.approx(profits.max())


def test_a_hand_built_series_trades_as_the_rule_says():
    close = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    levels = np.array([[np.nan, 20.0, 50.0, 75.0, 25.0, 50.0]])  # RSI: warm-up, buy, -, sell, buy
    profit, trades = _sweep(
        close, levels, np.array([0]), np.array([30.0]), np.array([70.0]), 0.01, 2.0
    )
    first = 2 * 13.0 * 0.99 - 2 * 11.0 * 1.01  # in at 11, out at 13, a 1 % fee on each side
    still_open = 2 * 15.0 - 2 * 14.0 * 1.01  # in at 14, valued at the last close, no exit fee
    assert profit[0] == pytest.approx(first + still_open)
    assert trades[0] == 2


def test_no_entry_level_reached_trades_nothing(close):
    grid = rsi_grid(close, (14,), (0.0,), (70.0,), FEE)
    assert grid.trades[0] == 0 and grid.profit[0] == 0.0


def test_an_entry_on_the_last_candle_is_held_at_its_own_close():
    close = np.array([10.0, 10.0, 10.0])
    profit, trades = _sweep(
        close,
        np.array([[50.0, 50.0, 10.0]]),
        np.array([0]),
        np.array([30.0]),
        np.array([70.0]),
        0.001,
        1.0,
    )
    assert trades[0] == 1 and profit[0] == pytest.approx(-10.0 * 0.001)
