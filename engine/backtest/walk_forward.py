"""Walk-forward: tune the rule agents' weights on one window, trade the next with them.

The decided span is cut into folds + 1 equal windows; fold k tunes on window k (the best
Sharpe over a small grid of weights, return breaking ties) and is judged on window k + 1,
next to the configured weights on that same window. Votes are computed once for all.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from agents import RULE_AGENTS
from config import Settings
from engine.backtest.candles import Market
from engine.backtest.runner import Progress, evaluate, prepare

GRID = (0.0, 0.5, 1.0)


@dataclass
class Fold:
    train: tuple[str, str]
    test: tuple[str, str]
    weights: dict[str, float]
    train_stats: dict[str, float]
    test_stats: dict[str, float]
    configured_test_stats: dict[str, float]


def _score(stats: dict[str, float]) -> tuple[float, float]:
    sharpe = stats["sharpe"]
    return (sharpe if math.isfinite(sharpe) else -math.inf, stats["return_pct"])


def walk_forward(
    settings: Settings, market: Market, folds: int = 3, progress: Progress | None = None
) -> list[Fold]:
    if folds < 1:
        raise ValueError("--folds must be at least 1")
    prepared = prepare(settings, market, all_agents=True)
    edges = [
        market.first + round(i * (len(market.index) - market.first) / (folds + 1))
        for i in range(folds + 2)
    ]
    others = {k: v for k, v in settings.agents.weights.items() if k not in RULE_AGENTS}
    grid = [
        dict(zip(RULE_AGENTS, combo, strict=True), **others)
        for combo in itertools.product(GRID, repeat=len(RULE_AGENTS))
        if any(combo)
    ]
    results = []
    for k in range(folds):
        train, test = (edges[k], edges[k + 1]), (edges[k + 1], edges[k + 2])
        scored = [(evaluate(prepared, w, train), w) for w in grid]
        best, weights = max(scored, key=lambda pair: _score(pair[0].stats))
        results.append(
            Fold(
                _span(market, train),
                _span(market, test),
                weights,
                best.stats,
                evaluate(prepared, weights, test).stats,
                evaluate(prepared, None, test).stats,
            )
        )
        if progress:
            progress((k + 1) / folds)
    return results


def _span(market: Market, rows: tuple[int, int]) -> tuple[str, str]:
    return (
        f"{market.index[rows[0]]:%Y-%m-%d %H:%M}",
        f"{market.index[rows[1] - 1]:%Y-%m-%d %H:%M}",
    )


def print_walk_forward(folds: list[Fold]) -> None:
    print("fold  window                               weights (tech/regime/sent)  "
          "return%  sharpe  trades")  # fmt: skip
    for i, fold in enumerate(folds, 1):
        w = "/".join(f"{fold.weights[a]:g}" for a in RULE_AGENTS)
        for name, span, stats in (
            ("tune", fold.train, fold.train_stats),
            ("test", fold.test, fold.test_stats),
            ("cfg ", fold.test, fold.configured_test_stats),
        ):
            weights = w if name != "cfg " else "configured"
            print(
                f"{i:>4}  {name} {span[0]} .. {span[1]}  {weights:<26}  "
                f"{stats['return_pct']:+7.2f}  {stats['sharpe']:6.2f}  {stats['trades']:6d}"
            )
