"""Agents: each maps a frame of candles to votes for every row at once (DESIGN.md)."""

from agents.base import LiveAgent, MarketBrief, RuleAgent, latest_vote
from agents.consensus import weigh_votes
from agents.regime import RegimeAgent, RegimeLimits
from agents.sentiment import SentimentAgent
from agents.technical import TechnicalAgent

__all__ = [
    "LiveAgent",
    "MarketBrief",
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


def build_team(
    weights: dict[str, float],
    regime: RegimeLimits | None = None,
    sentiment_proxy: bool = True,
    window: int | None = None,
) -> list[RuleAgent]:
    """The vectorised agents with a weight; sentiment only when it is the offline proxy.
    `window`: backtests read every row as the live loop's trailing window would."""
    available = {
        "technical": TechnicalAgent,
        "regime": lambda: RegimeAgent(regime, window),
        "sentiment": SentimentAgent,
    }
    if not sentiment_proxy:
        del available["sentiment"]
    return [
        available[name]() for name, weight in weights.items() if weight > 0 and name in available
    ]
