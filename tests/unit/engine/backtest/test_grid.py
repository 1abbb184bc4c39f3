"""The RSI rule's parameter grid: every combination's profit and trades as vectorbt's
broadcast from_signals gives them, and by hand on candles whose trades are known."""

import warnings

import numpy as np
import pandas as pd
import pytest

from data.market.indicators import rsi
from engine.backtest.grid import GridError, level_grid, rsi_grid
from tests.support.signal_runs import REAL_CANDLES

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


def test_on_real_candles_every_combination_equals_vectorbts():
    path = REAL_CANDLES / "ETH_BTC-5m.feather"
    if not path.exists():
        pytest.skip(f"no real candles at {path}")
    from data.candles.readers import read_candle_file

    close = read_candle_file(str(path)).candles["close"].to_numpy(dtype=float)
    grid = rsi_grid(close, PERIODS, ENTRIES, EXITS, FEE)
    profits, trades = vectorbt_profits(close)
    np.testing.assert_allclose(grid.profit, profits, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(grid.trades, trades)


def test_a_hand_built_series_trades_as_the_rule_says():
    close = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    levels = {14: np.array([np.nan, 20.0, 50.0, 75.0, 25.0, 50.0])}  # -, buy, -, sell, buy, -
    grid = level_grid(close, levels, (30.0,), (70.0,), fee_rate=0.01, size=2.0)
    first = 2 * 13.0 * 0.99 - 2 * 11.0 * 1.01  # in at 11, out at 13, a 1 % fee on each side
    still_open = 2 * 15.0 - 2 * 14.0 * 1.01  # in at 14, valued at the last close, no exit fee
    assert grid.profit[0] == pytest.approx(first + still_open)
    assert grid.trades[0] == 2


def test_a_buy_signal_while_long_and_a_sell_signal_while_flat_do_nothing():
    close = np.array([10.0, 12.0, 9.0, 11.0])
    levels = {14: np.array([80.0, 20.0, 10.0, 90.0])}  # sell when flat, buy, buy again, sell
    grid = level_grid(close, levels, (30.0,), (70.0,), fee_rate=0.0)
    assert grid.trades[0] == 1 and grid.profit[0] == pytest.approx(11.0 - 12.0)


def test_the_warm_up_gives_no_signal_even_below_every_level():
    close = np.arange(1.0, 8.0)
    levels = {3: np.array([np.nan, np.nan, np.nan, 5.0, 5.0, 5.0, 5.0])}
    grid = level_grid(close, levels, (99.0,), (100.0,), fee_rate=0.0)
    assert grid.trades[0] == 1 and grid.profit[0] == pytest.approx(7.0 - 4.0)  # in at row 3


def test_a_real_rsi_warm_up_enters_no_earlier_than_its_first_value():
    close = np.array([10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0])  # falling: RSI 0 once warm
    grid = rsi_grid(close, (3,), (30.0,), (70.0,), fee_rate=0.0)
    first_value = int(np.argmax(~np.isnan(rsi(close, 3))))
    assert grid.trades[0] == 1
    assert grid.profit[0] == pytest.approx(close[-1] - close[first_value])


def test_no_entry_level_reached_trades_nothing(close):
    grid = rsi_grid(close, (14,), (0.0,), (70.0,), FEE)
    assert grid.trades[0] == 0 and grid.profit[0] == 0.0


def test_an_entry_on_the_last_candle_is_held_at_its_own_close():
    close = np.array([10.0, 10.0, 10.0])
    grid = level_grid(close, {14: np.array([50.0, 50.0, 10.0])}, (30.0,), (70.0,), 0.001)
    assert grid.trades[0] == 1 and grid.profit[0] == pytest.approx(-10.0 * 0.001)


def test_each_combination_is_one_row_periods_outermost(close):
    grid = rsi_grid(close, (5, 9, 5), (20, 30), (60, 70, 80), FEE)
    assert len(grid) == 2 * 2 * 3  # a repeated period is swept once
    assert list(grid.periods[:6]) == [5] * 6 and list(grid.exit_levels[:3]) == [60, 70, 80]


@pytest.mark.parametrize(
    "change",
    [
        {"close": np.array([])},
        {"entry_levels": ()},
        {"fee_rate": -0.001},
        {"size": 0.0},
        {"levels": {14: np.zeros(3)}},
        {"entry_levels": (30.0, 70.0)},  # an entry not below an exit: both on one candle
    ],
)
def test_a_grid_that_cannot_be_swept_is_refused_in_one_line(change):
    args = {
        "close": np.ones(5),
        "levels": {14: np.full(5, 50.0)},
        "entry_levels": (30.0,),
        "exit_levels": (70.0,),
        "fee_rate": 0.001,
        "size": 1.0,
    } | change
    with pytest.raises(GridError, match="grid: "):
        level_grid(**args)
