"""The chance baseline: would the same trades, placed without the strategy's information,
have done as well?

Two null models, both vectorised over every draw at once (numpy arrays of draws x trades):

- random entries: each trade keeps its pair and its length in candles, and is moved to a
  start drawn uniformly from the span (seeded). Keeping the strategy's own holding times,
  rather than replaying its exit rules, holds exposure fixed and needs no sequential loop
  (200 draws cost milliseconds); the exit rules would also carry the strategy's sell signals,
  the very information under test.
- shifted signals: all of a pair's trades move together by one random offset, wrapping
  around the span, so the spacing and clustering of the strategy's signals are kept and only
  their alignment with prices is lost.

A run's score is its mean trade return after the run's round-trip costs, each trade valued
from the close of its entry candle to the close of its exit candle. The strategy's trades
are valued the same way, so only timing differs: its intrabar stops and fill prices do not
enter the comparison. The p-value is (runs at least as good + 1) / (draws + 1) (Phipson and
Smyth 2010: a Monte Carlo p-value is never 0), so 200 draws can show p < 0.01.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

DRAWS = 200
TIE = 1e-12  # a draw that repeats the strategy's own trades counts as "as good"


@dataclass(frozen=True)
class Trades:
    """One pair's trades as candle rows (absolute rows in the pair's close array)."""

    entry: np.ndarray
    exit: np.ndarray


@dataclass(frozen=True)
class ChanceBaseline:
    method: str  # "random entries" or "shifted signals"
    draws: int
    trades: int
    strategy_pct: float  # the strategy's mean trade return after costs, percent
    random_median_pct: float
    as_good: int  # random runs whose mean trade return was at least the strategy's
    p_value: float
    pair_p_values: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def round_trip_log_cost(fee_rate: float, slippage_rate: float) -> float:
    """A buy and a sell through `paper_fill`: slippage against you both ways, a fee on each
    filled value; as a log return, added to the price move."""
    kept = (1 - slippage_rate) * (1 - fee_rate) / ((1 + slippage_rate) * (1 + fee_rate))
    return math.log(kept)


def chance_baselines(
    closes: dict[str, np.ndarray],
    trades: dict[str, Trades],
    rows: tuple[int, int],
    log_cost: float,
    draws: int = DRAWS,
    seed: int = 0,
) -> list[ChanceBaseline]:
    """Both null models for trades that all lie in candle rows [start, stop)."""
    start, stop = rows
    span = stop - start
    traded = {pair: t for pair, t in trades.items() if len(t.entry)}
    if not traded or span < 2 or draws < 1:
        return []
    rng = np.random.default_rng(seed)
    # Log closes from `start`, twice over: a shifted trade may run past the end and on from
    # the start again (the seam counts as a flat candle).
    rings = {}
    for pair in traded:
        logs = np.log(np.asarray(closes[pair][start:stop], dtype=float))
        logs = logs - logs[0]
        rings[pair] = np.concatenate([logs, logs + logs[-1]])
    own, random, shifted = {}, {}, {}
    for pair, t in traded.items():
        entry, length = t.entry - start, t.exit - t.entry
        ring = rings[pair]
        own[pair] = _mean_return(ring[entry + length] - ring[entry], log_cost)
        starts = (rng.random((draws, len(entry))) * (span - length)).astype(np.int64)
        random[pair] = _mean_return(ring[starts + length] - ring[starts], log_cost)
        offsets = rng.integers(1, span, size=(draws, 1))
        moved = (entry + offsets) % span
        shifted[pair] = _mean_return(ring[moved + length] - ring[moved], log_cost)
    counts = {pair: len(t.entry) for pair, t in traded.items()}
    return [
        _compare("random entries", own, random, counts, draws),
        _compare("shifted signals", own, shifted, counts, draws),
    ]


def _mean_return(log_moves: np.ndarray, log_cost: float) -> np.ndarray:
    """Mean simple return after costs over the last axis (a trade's axis)."""
    return np.expm1(log_moves + log_cost).mean(axis=-1)


def _compare(method, own, drawn, counts, draws) -> ChanceBaseline:
    total = sum(counts.values())
    strategy = sum(own[p] * counts[p] for p in counts) / total
    runs = sum(drawn[p] * counts[p] for p in counts) / total

    def p_value(mine, theirs) -> float:
        return (int(np.sum(theirs >= mine - TIE)) + 1) / (draws + 1)

    return ChanceBaseline(
        method,
        draws,
        total,
        float(strategy) * 100,
        float(np.median(runs)) * 100,
        int(np.sum(runs >= strategy - TIE)),
        p_value(strategy, runs),
        {pair: p_value(own[pair], drawn[pair]) for pair in counts},
    )
