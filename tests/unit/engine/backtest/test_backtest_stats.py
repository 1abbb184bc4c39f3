"""A run's figures against values worked out by hand on tiny curves and trade lists, and the
guard that keeps short spans from being annualised."""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from config import load_config
from data.stats.backtest_labels import SPAN_TOO_SHORT, stat_text
from engine.backtest import run_backtest, synthetic_market
from engine.backtest.report import build_report, format_report, pair_equity
from engine.backtest.stats import (
    curve_stats,
    drawdown_periods,
    honest,
    monthly_returns,
    run_stats,
    trade_stats,
)

DAY = 86_400


def test_a_curve_s_return_sharpe_sortino_and_drawdown():
    stats = curve_stats(np.array([100.0, 110.0, 99.0, 121.0]), DAY)
    returns = [0.1, -0.1, 2 / 9]  # 110/100, 99/110, 121/99
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    downside = math.sqrt(0.1**2 / 3)  # only the -10 % day counts
    assert stats["return_pct"] == pytest.approx(21.0)
    assert stats["sharpe"] == pytest.approx(mean / std * math.sqrt(365))
    assert stats["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    assert stats["annual_volatility_pct"] == pytest.approx(std * math.sqrt(365) * 100)
    assert stats["annual_return_pct"] == pytest.approx((1.21 ** (365 / 3) - 1) * 100)
    assert stats["max_drawdown_pct"] == pytest.approx(-10.0)  # 110 down to 99
    assert stats["max_drawdown_days"] == 2  # the peak on day 1, regained on day 3


@pytest.mark.parametrize(
    ("curve", "candles"),
    [
        ([100, 101, 102], 0),  # never under water
        ([100, 90, 95], 2),  # not regained: to the last candle
        ([100, 90, 100, 101, 100, 99, 98, 102], 4),  # the longer of two: 101 regained at 102
    ],
)
def test_drawdown_duration_runs_from_the_peak_to_the_candle_that_regains_it(curve, candles):
    assert drawdown_periods(np.array(curve, dtype=float)) == candles


def test_trade_figures():
    stats = trade_stats(
        np.array([10.0, -5.0, 20.0, -5.0]),
        np.array([0.01, -0.005, 0.02, -0.005]),
        np.array([1.0, 2.0, 3.0, 6.0]),
    )
    assert stats == {
        "trades": 4,
        "win_rate_pct": 50.0,
        "profit_factor": 3.0,  # 30 won against 10 lost
        "expectancy": 5.0,  # 20 over 4 trades
        "avg_trade_pct": pytest.approx(0.5),
        "best_trade_pct": pytest.approx(2.0),
        "worst_trade_pct": pytest.approx(-0.5),
        "avg_trade_hours": 3.0,
    }


def test_no_trades_leave_the_trade_figures_blank():
    stats = trade_stats(np.zeros(0), np.zeros(0), np.zeros(0))
    assert stats["trades"] == 0
    assert all(math.isnan(v) for k, v in stats.items() if k != "trades")


def four_days_losing_1_04_percent():
    """The run that was once printed as -59.98 % a year: 4 days of 5-minute candles."""
    candles = 4 * 288
    equity = np.linspace(10_000, 9_896, candles + 1)
    held = np.linspace(10_000, 10_100, candles + 1)
    return run_stats(equity, np.zeros(0), 0.0, np.zeros(candles, bool), held, 300)


def test_a_four_day_span_is_not_annualised():
    raw = four_days_losing_1_04_percent()
    assert raw["annual_return_pct"] < -50  # what compounding 4 days to a year says
    shown = honest(raw)
    assert shown["annualised"] is False
    for key in ("annual_return_pct", "annual_volatility_pct", "sharpe", "sortino",
                "buy_and_hold_sharpe", "buy_and_hold_annual_return_pct"):  # fmt: skip
        assert math.isnan(shown[key]), key
        assert stat_text(key, shown[key], annualised=False) == SPAN_TOO_SHORT
    assert shown["return_pct"] == pytest.approx(-1.04)
    assert shown["span_days"] == pytest.approx(4.0)


def test_thirty_days_and_more_are_annualised():
    candles = 30 * 288
    equity = np.linspace(10_000, 10_300, candles + 1)
    shown = honest(run_stats(equity, np.zeros(0), 0.0, np.zeros(candles, bool), equity, 300))
    assert shown["annualised"] is True
    assert shown["annual_return_pct"] == pytest.approx((1.03 ** (365 / 30) - 1) * 100)
    assert shown["sharpe"] > 0


def test_monthly_returns_run_from_the_end_of_the_month_before():
    times = ["2026-01-31 23:55", "2026-02-15", "2026-02-28 12:00", "2026-03-10"]
    equity = pd.Series([100.0, 110.0, 121.0, 108.9], index=pd.DatetimeIndex(times, tz=UTC))
    assert monthly_returns(equity) == {
        "2026-02": pytest.approx(21.0),
        "2026-03": pytest.approx(-10.0),
    }


@pytest.fixture(scope="module")
def two_pairs():
    start = datetime(2026, 2, 1, tzinfo=UTC)
    pairs = ["BTC/USDT", "ETH/USDT"]
    market = synthetic_market(5, pairs, "5m", start, start + timedelta(days=6), 300)
    return run_backtest(load_config(None), market)


def test_the_pairs_results_add_up_to_the_account(two_pairs):
    start, stop = two_pairs.rows
    capital = two_pairs.equity.iloc[0]
    gains = sum(pair_equity(two_pairs, p, start, stop) - capital for p in two_pairs.market.pairs)
    np.testing.assert_allclose(capital + gains, two_pairs.equity.to_numpy(), rtol=1e-12)
    report = build_report(two_pairs)
    assert sum(p["trades"] for p in report.pairs.values()) == two_pairs.stats["trades"] > 0
    assert sum(p["return_pct"] for p in report.pairs.values()) == pytest.approx(
        two_pairs.stats["return_pct"]
    )
    assert sum(p["fees_paid"] for p in report.pairs.values()) == pytest.approx(
        two_pairs.stats["fees_paid"]
    )


def test_the_printed_report_sets_buy_and_hold_beside_the_strategy(two_pairs):
    text = format_report(build_report(two_pairs))
    header, returns = text.splitlines()[0], text.splitlines()[1]
    assert header.split() == ["Strategy", "Buy", "&", "hold"]
    assert returns.split()[-2:] == [
        f"{two_pairs.stats['return_pct']:.2f}",
        f"{two_pairs.stats['buy_and_hold_pct']:.2f}",
    ]
    assert f"Sharpe ratio                  {SPAN_TOO_SHORT}: 6.0 days" in text
    assert "Chance baseline: " in text and "Shifted signals: " in text
    for pair in ("BTC/USDT", "ETH/USDT"):
        assert any(line.startswith(pair) for line in text.splitlines())
    assert "2026-02" in text  # the monthly returns
