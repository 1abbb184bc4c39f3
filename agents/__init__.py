"""Agents: each maps a frame of candles to votes for every row at once (DESIGN.md)."""

from agents.base import RuleAgent, latest_vote
from agents.consensus import weigh_votes
from agents.regime import RegimeAgent, RegimeLimits
from agents.sentiment import SentimentAgent
from agents.technical import TechnicalAgent

__all__ = [
    "RegimeAgent",
    "RegimeLimits",
    "RuleAgent",
    "SentimentAgent",
    "TechnicalAgent",
    "latest_vote",
    "weigh_votes",
    "build_team",
    "RULE_AGENTS",
]

RULE_AGENTS = ("technical", "regime", "sentiment")


def build_team(weights: dict[str, float], regime: RegimeLimits | None = None) -> list[RuleAgent]:
    available = {
        "technical": TechnicalAgent,
        "regime": lambda: RegimeAgent(regime),
        "sentiment": SentimentAgent,
    }
    return [available[name]() for name, weight in weights.items() if weight > 0]
