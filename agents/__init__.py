"""Agents: each maps a frame of candles to votes for every row at once (DESIGN.md)."""

from agents.base import LiveAgent, MarketBrief, RuleAgent, latest_vote
from agents.consensus import weigh_votes
from agents.regime import RegimeAgent, RegimeLimits
from agents.sentiment import SentimentAgent
from agents.technical import TechnicalAgent
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods

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
    periods: IndicatorPeriods = DEFAULT_PERIODS,
) -> list[RuleAgent]:
    """The vectorised agents with a weight; sentiment only when it is the offline proxy.
    `window`: backtests read every row as the live loop's trailing window would. `periods`:
    the indicator lengths (config [indicators]); the indicator columns the agents read must
    be computed with the same ones."""
    available = {
        "technical": lambda: TechnicalAgent(periods),
        "regime": lambda: RegimeAgent(regime, window, periods),
        "sentiment": lambda: SentimentAgent(periods.momentum),
    }
    if not sentiment_proxy:
        del available["sentiment"]
    return [
        available[name]() for name, weight in weights.items() if weight > 0 and name in available
    ]
