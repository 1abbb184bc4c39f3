"""Backtests of the live pipeline: same agents, consensus, risk gate and paper-fill arithmetic,
on the simulated clock as fast as the machine allows (see runner.py)."""

from engine.backtest.candles import CandleDataError, Market, csv_market, load_csv, synthetic_market
from engine.backtest.runner import BacktestResult, evaluate, prepare, run_backtest

__all__ = [
    "BacktestResult",
    "CandleDataError",
    "Market",
    "csv_market",
    "evaluate",
    "load_csv",
    "prepare",
    "run_backtest",
    "synthetic_market",
]
