"""A walk-forward's folds joined into one out-of-sample result: the tuned weights' test
windows chained end to end, the configured weights' the same way, buy-and-hold over the same
candles, and the chance baseline on the tuned trades."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.backtest.baseline import ChanceBaseline, Trades, chance_baselines, round_trip_log_cost
from engine.backtest.report import trade_rows
from engine.backtest.runner import BacktestResult
from engine.backtest.stats import honest, run_stats


@dataclass
class OutOfSample:
    stats: dict[str, float]  # the tuned weights', honest, with buy-and-hold's beside
    configured: dict[str, float]  # the configured weights' on the same windows
    equity: pd.Series
    configured_equity: pd.Series
    buy_and_hold: pd.Series
    trades: pd.DataFrame
    prices: dict[str, np.ndarray]  # each pair's close at the curve's times
    baselines: list[ChanceBaseline] = field(default_factory=list)


def chain(results: list[BacktestResult], curve: str = "equity") -> pd.Series:
    """Each window's curve scaled to start where the one before ended (the shared boundary
    point kept once)."""
    pieces, level = [], float(getattr(results[0], curve).iloc[0])
    for i, result in enumerate(results):
        values = getattr(result, curve)
        scaled = values * (level / float(values.iloc[0]))
        pieces.append(scaled if i == 0 else scaled.iloc[1:])
        level = float(scaled.iloc[-1])
    return pd.concat(pieces)


def combine(
    tuned: list[BacktestResult], configured: list[BacktestResult], draws: int, seed: int
) -> OutOfSample:
    equity = chain(tuned)
    held = chain(tuned, "buy_and_hold")
    return OutOfSample(
        _stats(tuned, equity, held),
        _stats(configured, chain(configured), held),
        equity,
        chain(configured),
        held,
        pd.concat([r.trades for r in tuned], ignore_index=True),
        _prices(tuned),
        _baselines(tuned, draws, seed),
    )


def _stats(results: list[BacktestResult], equity: pd.Series, held: pd.Series) -> dict:
    trades = pd.concat([r.trades for r in results], ignore_index=True)
    step = results[0].market.step_seconds
    exposed = np.concatenate([_exposed(r) for r in results])
    open_fees = sum(p.entry_fee for r in results for p in r.simulation.open_positions.values())
    hours = (trades["exit_row"] - trades["entry_row"]).to_numpy(dtype=float) * step / 3600
    return honest(
        run_stats(
            equity.to_numpy(),
            trades["pnl"].to_numpy(dtype=float),
            float(trades["fees"].sum()) + open_fees,
            exposed,
            held.to_numpy(),
            step,
            trades["pnl_pct"].to_numpy(dtype=float),
            hours,
        )
    )


def _exposed(result: BacktestResult) -> np.ndarray:
    start, stop = result.rows
    exposed = np.zeros(stop - start, dtype=bool)
    for amounts in result.simulation.held.values():
        exposed |= amounts[start:stop] > 0
    return exposed


def _prices(results: list[BacktestResult]) -> dict[str, np.ndarray]:
    pieces = [r.prices() for r in results]
    return {
        pair: np.concatenate([pieces[0][pair], *(p[pair][1:] for p in pieces[1:])])
        for pair in pieces[0]
    }


def _baselines(results: list[BacktestResult], draws: int, seed: int) -> list[ChanceBaseline]:
    first, last = results[0], results[-1]
    rows = [trade_rows(r) for r in results]
    trades = {
        pair: Trades(
            np.concatenate([r[pair].entry for r in rows]),
            np.concatenate([r[pair].exit for r in rows]),
        )
        for pair in first.market.pairs
    }
    closes = {pair: s.close for pair, s in last.signals.items()}  # the longest: to the end
    costs = first.costs
    log_cost = round_trip_log_cost(costs.fee_rate, costs.slippage_rate) if costs else 0.0
    return chance_baselines(closes, trades, (first.rows[0], last.rows[1]), log_cost, draws, seed)
