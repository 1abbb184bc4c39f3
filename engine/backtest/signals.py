"""The team's decisions for every candle at once: agents' vote frames, then weighted consensus.

Mirrors `weigh_votes` row by row, in the same order of operations, so a score equals the
live one to the last bit when the votes do: abstentions (NaN confidence) drop out, and the
threshold is the one for the regime `classify` reads on that candle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from agents import RuleAgent
from agents.regime import REGIMES, RegimeLimits, classify
from data.market.indicators import add_indicators_over_windows
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from engine.backtest.vote_cache import VoteCache, agent_key, reads_no_frame_lengths

REGIME_CODES = {name: code for code, name in enumerate(REGIMES)}


@dataclass
class StoredVotes:
    """Replies an agent that cannot be vectorised gave live, replayed by candle."""

    agent: str
    direction: np.ndarray  # 1, -1, 0
    confidence: np.ndarray  # NaN where it abstained or was never asked
    replayed: int = 0  # stored votes replayed as they were given
    abstained: int = 0  # stored abstentions: the agent abstains on those candles again
    skipped: int = 0  # replies to another model or prompt version: not replayed


@dataclass
class PairSignals:
    """Plain arrays the sequential loop reads; `action` is 1 buy, -1 sell, 0 hold."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    atr: np.ndarray
    action: np.ndarray
    score: np.ndarray
    regime: np.ndarray
    votes: dict[str, np.ndarray] = field(default_factory=dict)  # agent -> direction * conf


@dataclass
class TeamVotes:
    """Each agent's direction and confidence for every candle, computed once per pair, so
    weights and thresholds can be tried again without recomputing (walk-forward)."""

    frame: pd.DataFrame
    directions: dict[str, np.ndarray]
    confidences: dict[str, np.ndarray]
    regime_code: np.ndarray


def team_votes(
    candles: pd.DataFrame,
    agents: list[RuleAgent],
    regime_limits: RegimeLimits,
    window: int,
    stored: list[StoredVotes] = (),
    periods: IndicatorPeriods = DEFAULT_PERIODS,
    cache: VoteCache | None = None,
    pair: str = "",
) -> TeamVotes:
    """Every agent's votes on every row's trailing `window`, the indicators and the regime
    computed with `periods` (the agents must be built with the same: `build_team`). With a
    `cache` (a search's), each agent's votes are reused where the lengths it reads are."""
    computed: list[pd.DataFrame] = []

    def indicators() -> pd.DataFrame:  # with these lengths, at most once here
        if not computed:
            computed.append(add_indicators_over_windows(candles, window, periods))
        return computed[0]

    # A cached frame's own lengths may differ: only what no length changes is read from it
    # (the candles, ATR: the consensus, the regime, sentiment); the rest from `indicators`.
    frame = cache.frame((pair, window), indicators) if cache is not None else indicators()
    directions, confidences = {}, {}
    shared = (pair, window, regime_limits)
    for agent in agents:

        def vote(agent=agent) -> tuple[np.ndarray, np.ndarray]:
            reads = frame if reads_no_frame_lengths(agent.name) else indicators()
            votes = agent.vote_frame(reads)
            return (
                votes["direction"].to_numpy(dtype=float),
                votes["confidence"].to_numpy(dtype=float),
            )

        key = (*shared, agent.name, agent_key(agent.name, periods))
        direction, confidence = cache.arrays(key, vote) if cache is not None else vote()
        directions[agent.name], confidences[agent.name] = direction, confidence
    for replies in stored:
        directions[replies.agent] = replies.direction.astype(float)
        confidences[replies.agent] = replies.confidence

    def regime() -> tuple[np.ndarray]:
        return (classify(frame, regime_limits, window, periods)["regime_code"].to_numpy(),)

    key = (*shared, "classify", agent_key("regime", periods))
    (code,) = cache.arrays(key, regime) if cache is not None else regime()
    return TeamVotes(frame, directions, confidences, code)


def decide(
    votes: TeamVotes, weights: dict[str, float], thresholds: dict[str, float]
) -> PairSignals:
    """`weigh_votes` for every row: the same sums in the same order."""
    n = len(votes.frame)
    total = np.zeros(n)
    weight_sum = np.zeros(n)
    contributions = {}
    for agent, direction in votes.directions.items():
        weight = weights.get(agent, 0.0)
        if weight <= 0:
            continue
        confidence = votes.confidences[agent]
        counted = ~np.isnan(confidence)
        signed = np.where(counted, (weight * direction) * confidence, 0.0)
        total = total + signed
        weight_sum = weight_sum + np.where(counted, weight, 0.0)
        contributions[agent] = np.where(counted, direction * confidence, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(weight_sum > 0, total / weight_sum, 0.0)
    code = np.where(np.isnan(votes.regime_code), REGIME_CODES["normal"], votes.regime_code)
    by_code = np.array([thresholds[name] for name in REGIMES])
    threshold = by_code[code.astype(int)]
    action = np.where(score >= threshold, 1, np.where(score <= -threshold, -1, 0))
    frame = votes.frame
    return PairSignals(
        open=frame["open"].to_numpy(dtype=float),
        high=frame["high"].to_numpy(dtype=float),
        low=frame["low"].to_numpy(dtype=float),
        close=frame["close"].to_numpy(dtype=float),
        atr=frame["atr"].to_numpy(dtype=float),
        action=action.astype(np.int8),
        score=score,
        regime=code.astype(np.int8),
        votes=contributions,
    )
