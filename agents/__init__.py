"""Agents: each maps a frame of candles to votes for every row at once (DESIGN.md)."""

from agents.base import RuleAgent, latest_vote
from agents.consensus import weigh_votes
from agents.technical import TechnicalAgent

__all__ = ["RuleAgent", "TechnicalAgent", "latest_vote", "weigh_votes", "build_team"]


def build_team(weights: dict[str, float]) -> list[RuleAgent]:
    available = {"technical": TechnicalAgent}
    return [available[name]() for name, weight in weights.items() if weight > 0]
