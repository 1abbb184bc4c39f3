"""One trial of the search: its settings backtested on every in-sample fold, then on the
held-out window. Votes are computed once per distinct set of indicator periods and shared by
every trial that uses it; only the sequential part (positions, cash, stops, risk) runs per
trial, over plain arrays."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from config import Settings
from engine.backtest.candles import Market
from engine.backtest.report import json_safe
from engine.backtest.runner import BacktestResult, Prepared, evaluate, prepare
from engine.backtest.vote_cache import VoteCache
from engine.search.objective import objective_value
from engine.search.overfitting import ReturnShape, return_shape
from engine.search.split import Split

WORST = -1e9  # a trial with too few trades: below every real score, finite for the sampler
FIGURES = (
    "return_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "trades",
    "win_rate_pct",
    "expectancy",
    "buy_and_hold_pct",
    "fees_paid",
)

FoldReport = Callable[[int, float], None]  # (fold, the mean objective so far): may prune


@dataclass
class InSample:
    value: float  # the objective, averaged over folds
    folds: list[dict[str, float]]
    shape: ReturnShape  # the folds' returns joined: for the deflated Sharpe ratio
    trades: int


@dataclass
class TrialMarket:
    """The market a search runs on, its split, and the vote frames computed so far."""

    settings: Settings
    market: Market
    split: Split
    objective: str
    min_trades: int = 0
    cache: VoteCache = field(default_factory=VoteCache)

    def prepared(self, settings: Settings) -> Prepared:
        """Every rule agent's votes with these settings' indicator lengths: each agent's
        computed once per distinct set of the lengths it reads, and shared."""
        return prepare(settings, self.market, all_agents=True, cache=self.cache)

    def in_sample(self, settings: Settings, report: FoldReport | None = None) -> InSample:
        prepared = self.prepared(settings)
        folds, values, returns, trades = [], [], [], 0
        for k, rows in enumerate(self.split.in_sample):
            result = evaluate(prepared, rows=rows)
            value = objective_value(self.objective, result.stats)
            folds.append(figures(result.stats) | {"objective": value})
            values.append(value)
            returns.append(np.diff(result.equity.to_numpy()) / result.equity.to_numpy()[:-1])
            trades += result.stats["trades"]
            if report is not None:
                report(k, float(np.mean(values)))
        value = float(np.mean(values)) if trades >= self.min_trades else WORST
        return InSample(value, folds, return_shape(np.concatenate(returns)), trades)

    def held_out(self, settings: Settings) -> BacktestResult:
        return evaluate(self.prepared(settings), rows=self.split.held_out)


def figures(stats: dict[str, float]) -> dict[str, float]:
    """The statistics a trial keeps, JSON-safe (NaN as None)."""
    return {name: json_safe(float(stats.get(name, math.nan))) for name in FIGURES}
