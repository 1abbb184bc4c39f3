"""Weighted consensus: abstaining agents drop out; act only when |score| reaches the threshold."""

from __future__ import annotations

from collections.abc import Sequence

from data.types import Action, Consensus, Vote, VoteSource


def weigh_votes(votes: Sequence[Vote], weights: dict[str, float], threshold: float) -> Consensus:
    counted = [v for v in votes if v.source != VoteSource.ABSTAIN and weights.get(v.agent, 0) > 0]
    total_weight = sum(weights[v.agent] for v in counted)
    if total_weight == 0:
        score = 0.0
    else:
        score = sum(weights[v.agent] * v.action.direction * v.confidence for v in counted)
        score /= total_weight
    if score >= threshold:
        action = Action.BUY
    elif score <= -threshold:
        action = Action.SELL
    else:
        action = Action.HOLD
    used = {v.agent: weights.get(v.agent, 0.0) if v in counted else 0.0 for v in votes}
    return Consensus(action, round(score, 6), threshold, used, tuple(votes))
