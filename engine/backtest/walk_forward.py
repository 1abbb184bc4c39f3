"""Walk-forward: tune the rule agents' weights on one window, trade the next with them.

The decided span is cut into folds + 1 equal windows; fold k tunes on window k (the best
Sharpe over a small grid of weights, return breaking ties) and is judged on window k + 1,
next to the configured weights on that same window. Votes are computed once for all.

The folds' test windows join into one out-of-sample span: each fold starts from the
starting capital, so the combined curve chains their growth (a fold that halves the account
halves every later fold's figures too), next to the configured weights chained the same way
and to buy-and-hold over the same candles. Fold windows are too short to annualise; the
tuning still ranks them by their raw Sharpe, the printed figures say n/a.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from agents import RULE_AGENTS
from config import Settings
from data.stats.backtest_labels import SPAN_TOO_SHORT, baseline_sentence, stat_text
from engine.backtest.candles import Market
from engine.backtest.out_of_sample import OutOfSample
from engine.backtest.runner import BacktestResult, Progress, evaluate, prepare
from engine.backtest.stats import MIN_ANNUALISE_DAYS, honest

GRID = (0.0, 0.5, 1.0)


@dataclass
class Fold:
    train: tuple[str, str]
    test: tuple[str, str]
    weights: dict[str, float]
    train_stats: dict[str, float]
    test_stats: dict[str, float]
    configured_test_stats: dict[str, float]
    test_result: BacktestResult | None = None
    configured_result: BacktestResult | None = None


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
        tuned, configured = evaluate(prepared, weights, test), evaluate(prepared, None, test)
        results.append(
            Fold(
                _span(market, train),
                _span(market, test),
                weights,
                best.stats,
                tuned.stats,
                configured.stats,
                tuned,
                configured,
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


def print_walk_forward(folds: list[Fold], combined: OutOfSample) -> None:
    """Each fold's tuning and test windows, then the joined test windows against the
    configured weights and buy-and-hold."""
    print("fold  window                               weights (tech/regime/sent)  "
          "return%  sharpe  max dd%  trades")  # fmt: skip
    for i, fold in enumerate(folds, 1):
        w = "/".join(f"{fold.weights[a]:g}" for a in RULE_AGENTS)
        for name, span, stats in (
            ("tune", fold.train, fold.train_stats),
            ("test", fold.test, fold.test_stats),
            ("cfg ", fold.test, fold.configured_test_stats),
        ):
            weights = w if name != "cfg " else "configured"
            print(f"{i:>4}  {name} {span[0]} .. {span[1]}  {weights:<26}  {_figures(stats)}")
    span = (folds[0].test[0], folds[-1].test[1])
    print(f"\nout of sample, the {len(folds)} test windows joined: {span[0]} .. {span[1]} "
          f"({combined.stats['span_days']:.1f} days)")  # fmt: skip
    held = {
        "return_pct": combined.stats["buy_and_hold_pct"],
        "sharpe": combined.stats["buy_and_hold_sharpe"],
        "max_drawdown_pct": combined.stats["buy_and_hold_max_drawdown_pct"],
        "annualised": combined.stats["annualised"],
    }
    for name, stats in (
        ("tuned weights", combined.stats),
        ("configured weights", combined.configured),
        ("buy & hold", held),
    ):
        print(f"      {name:<63}  {_figures(stats)}")
    if not combined.stats["annualised"]:
        print(f"      sharpe: {SPAN_TOO_SHORT} (under {MIN_ANNUALISE_DAYS:.0f} days)")
    for baseline in combined.baselines:
        print(f"      {baseline_sentence(baseline.to_dict())}")


def _figures(stats: dict) -> str:
    shown = honest(stats) if "annualised" not in stats else stats
    sharpe = "n/a" if not shown["annualised"] else stat_text("sharpe", shown["sharpe"])
    trades = f"{shown['trades']:6d}" if "trades" in shown else f"{'':6}"
    return f"{shown['return_pct']:+7.2f}  {sharpe:>6}  {shown['max_drawdown_pct']:7.2f}  {trades}"
