"""Missing candles inside a series, and what to do about them: refuse the series, fill the
holes with flat candles, or split it into gap-free segments each usable alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from data.candles.errors import CandleDataError, CandleGapError
from data.candles.timeframes import describe, timeframe_name

GapPolicy = Literal["refuse", "fill", "split"]
GAP_POLICIES: tuple[str, ...] = get_args(GapPolicy)


@dataclass(frozen=True)
class Gap:
    """Candles missing between `last` and `resumes` (both open times of candles that exist)."""

    last: pd.Timestamp
    resumes: pd.Timestamp
    step_seconds: int
    position: int  # row of `resumes` in the series

    @property
    def missing(self) -> int:
        return int((self.resumes - self.last).total_seconds()) // self.step_seconds - 1

    @property
    def duration(self) -> pd.Timedelta:
        """The time no candle covers."""
        return self.resumes - self.last - pd.Timedelta(seconds=self.step_seconds)

    def __str__(self) -> str:
        candles = "candle" if self.missing == 1 else "candles"
        return (
            f"{self.missing} {candles} missing from {self.last + self._step:%Y-%m-%d %H:%M} "
            f"to {self.resumes:%Y-%m-%d %H:%M} ({describe(self.duration)})"
        )

    @property
    def _step(self) -> pd.Timedelta:
        return pd.Timedelta(seconds=self.step_seconds)


def find_gaps(
    candles: pd.DataFrame,
    step_seconds: int,
    source: str = "candles",
    where: Callable[[int], str] | None = None,
) -> list[Gap]:
    """Every gap, oldest first. A candle off the timeframe's grid (spaced by no whole number
    of candles) is a fault, not a gap."""
    index = candles.index
    if len(index) < 2:
        return []
    steps = np.diff(index.as_unit("s").asi8)
    for row in np.flatnonzero(steps % step_seconds != 0)[:1]:
        place = f" {where(row + 1)}" if where else ""
        raise CandleDataError(
            f"{source}{place}: {index[row + 1]} is {steps[row]} s after the previous candle, "
            f"off the {timeframe_name(step_seconds)} grid"
        )
    return [
        Gap(index[row], index[row + 1], step_seconds, row + 1)
        for row in np.flatnonzero(steps > step_seconds)
    ]


def summarize(gaps: list[Gap]) -> str:
    """One phrase: 'no gaps' or '2 gaps, 7 candles missing, longest 25m from ...'."""
    if not gaps:
        return "no gaps"
    longest = max(gaps, key=lambda gap: gap.missing)
    missing = sum(gap.missing for gap in gaps)
    count = "1 gap" if len(gaps) == 1 else f"{len(gaps)} gaps"
    return (
        f"{count} ({missing:,} candle{'s' if missing != 1 else ''} missing; longest "
        f"{describe(longest.duration)} from {longest.last + longest._step:%Y-%m-%d %H:%M})"
    )


def refuse_gaps(
    candles: pd.DataFrame,
    step_seconds: int,
    source: str = "candles",
    where: Callable[[int], str] | None = None,
) -> None:
    """CandleGapError naming the first gap: where, how long, how many candles."""
    gaps = find_gaps(candles, step_seconds, source, where)
    if gaps:
        raise _refusal(gaps, step_seconds, source, where)


def _refusal(gaps: list[Gap], step_seconds: int, source: str, where) -> CandleGapError:
    gap = gaps[0]
    place = f" {where(gap.position)}" if where else ""
    return CandleGapError(
        f"{source}{place}: gap: {gap.resumes} follows {gap.last} "
        f"({describe(gap.duration)}, {gap.missing} candle(s) missing; the candles are "
        f"{timeframe_name(step_seconds)} apart; {len(gaps)} gap(s) in all)"
    )


def fill_gaps(candles: pd.DataFrame, step_seconds: int) -> pd.DataFrame:
    """Each missing candle becomes a flat one at the previous close with zero volume: no
    price move and no trade is invented."""
    if not find_gaps(candles, step_seconds):
        return candles
    grid = pd.date_range(
        candles.index[0], candles.index[-1], freq=pd.Timedelta(seconds=step_seconds), name="ts"
    )
    filled = candles.reindex(grid)
    holes = filled["close"].isna().to_numpy()
    close = filled["close"].ffill()
    for column in ("open", "high", "low"):
        filled[column] = filled[column].where(~holes, close)
    filled["close"] = close
    filled["volume"] = filled["volume"].fillna(0.0)
    return filled


def split_at_gaps(candles: pd.DataFrame, step_seconds: int) -> list[pd.DataFrame]:
    """Gap-free segments, oldest first; an empty series has none."""
    if len(candles) == 0:  # not .empty: a frame of times alone has no columns
        return []
    cuts = [gap.position for gap in find_gaps(candles, step_seconds)]
    bounds = [0, *cuts, len(candles)]
    return [candles.iloc[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def apply_gap_policy(
    candles: pd.DataFrame,
    step_seconds: int,
    policy: GapPolicy,
    source: str = "candles",
    where: Callable[[int], str] | None = None,
) -> pd.DataFrame:
    """refuse: the candles unchanged, or CandleGapError naming the first gap; fill: the
    holes filled; split: the real candles, gaps kept (split_at_gaps gives the segments).
    Candles off the timeframe's grid are refused under every policy."""
    if policy not in GAP_POLICIES:
        raise CandleDataError(f"gap policy {policy!r} is not one of {', '.join(GAP_POLICIES)}")
    gaps = find_gaps(candles, step_seconds, source, where)
    if gaps and policy == "refuse":
        raise _refusal(gaps, step_seconds, source, where)
    if gaps and policy == "fill":
        return fill_gaps(candles, step_seconds)
    return candles
