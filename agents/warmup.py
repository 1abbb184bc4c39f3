"""How many candles a team needs before it decides: until every window it reads is warm.

Computed from the team and its limits, never hard-coded: the indicators (the gate sizes
from ATR, live agents are told them), the regime reading (it sets every decision's
threshold, whatever the regime agent's weight) and each agent's own windows. On a trailing
window of `window` candles (market.history_candles), as the live loop and backtests read.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.base import RuleAgent
from agents.regime import RegimeLimits, regime_warmup
from data.market.indicators import indicator_warmup
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods


def warmup_parts(
    agents: Sequence[RuleAgent],
    regime: RegimeLimits | None,
    window: int,
    periods: IndicatorPeriods = DEFAULT_PERIODS,
) -> dict[str, int]:
    """Candles each part needs: "indicators", "regime reading" and every agent's name. An
    agent that declares no `warmup(window)` reads only the indicators. `periods`: the
    lengths the indicators and the regime reading are computed with."""
    parts = {
        "indicators": indicator_warmup(periods),
        "regime reading": regime_warmup(regime or RegimeLimits(), window, periods),
    }
    for agent in agents:
        own = getattr(agent, "warmup", None)
        if own is not None:
            parts[agent.name] = own(window)
    return parts


def team_warmup(
    agents: Sequence[RuleAgent],
    regime: RegimeLimits | None,
    window: int,
    periods: IndicatorPeriods = DEFAULT_PERIODS,
) -> int:
    """The candles a pair needs before its first decision: the longest part."""
    return max(warmup_parts(agents, regime, window, periods).values())


def decision_warmup(
    agents: Sequence[RuleAgent],
    regime: RegimeLimits | None,
    history_candles: int,
    periods: IndicatorPeriods = DEFAULT_PERIODS,
) -> int:
    """Candles a pair needs before its first decision, live and in backtests alike: the
    team's warm-up on its window. A window shorter than that is refused by `python -m
    engine check`, run, supervise and backtest (engine.wiring.check_warmup); a Trader or
    backtest built directly on one (tests' short windows) waits for a full window instead."""
    return min(team_warmup(agents, regime, history_candles, periods), history_candles)
