"""Cutting a market's decided span into in-sample folds and a final held-out window.

The held-out window is the last `holdout` share of the span: the search never evaluates a
trial's objective on it. Every trial decides from the same first row whatever its indicator
periods (the longest warm-up the config allows), so their figures cover the same candles.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from engine.backtest.candles import CandleDataError, Market

MIN_FOLD_CANDLES = 50


@dataclass(frozen=True)
class Split:
    in_sample: tuple[tuple[int, int], ...]  # rows [start, stop) of each fold
    held_out: tuple[int, int]

    @property
    def first(self) -> int:
        return self.in_sample[0][0]


def split_market(market: Market, folds: int, holdout: float, first: int) -> Split:
    """`folds` equal in-sample windows from row `first`, then the held-out window."""
    if not 0 < holdout < 1:
        raise ValueError(f"--holdout must be between 0 and 1 (got {holdout:g})")
    if folds < 1:
        raise ValueError(f"--folds must be at least 1 (got {folds})")
    end = len(market.index)
    decided = end - first
    held_start = end - round(decided * holdout)
    fold_candles = (held_start - first) // folds
    if fold_candles < MIN_FOLD_CANDLES or end - held_start < MIN_FOLD_CANDLES:
        raise CandleDataError(
            f"{market.source}: {decided} decided candles are too few for {folds} folds and a "
            f"{holdout:.0%} held-out window of at least {MIN_FOLD_CANDLES} candles each; "
            "give a longer span or fewer folds"
        )
    edges = [first + k * fold_candles for k in range(folds)] + [held_start]
    return Split(tuple(zip(edges[:-1], edges[1:], strict=True)), (held_start, end))


def span_text(market: Market, rows: tuple[int, int]) -> tuple[str, str]:
    """The first and last decision candles' closes of rows [start, stop), ISO UTC."""
    step = market.step_seconds
    first = market.index[rows[0]] + pd.Timedelta(seconds=step)
    last = market.index[rows[1] - 1] + pd.Timedelta(seconds=step)
    return first.isoformat(), last.isoformat()
