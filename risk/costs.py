"""What a round trip costs, and what that asks of an entry's target and of a team's accuracy.

A long pays the fee and the slippage twice, once to buy and once to sell. A take-profit
barely past that cost loses money on a "win"; so the gate refuses an entry whose target
does not clear the cost by a margin, and the learning break-even counts the cost too.
"""

from __future__ import annotations

import math


def round_trip_cost(fee_rate: float, slippage_rate: float) -> float:
    """Fees and slippage on both sides, as a fraction of the price (0.003 for 0.1 % + 0.05 %)."""
    return 2 * fee_rate + 2 * slippage_rate


def target_shortfall(
    price: float,
    take_profit: float,
    stop_loss: float,
    cost: float,
    margin: float,
) -> str | None:
    """Why the target does not clear `margin` times the round-trip `cost`, or None when it
    does (or when the rule is off: margin 0, or no cost at all).

    An entry without a take-profit (an infinite or unset one) has no target to measure:
    then its stop distance must clear the margin instead, since a position sized on a
    stop inside the cost band loses more to costs than to the market.
    """
    if margin <= 0 or cost <= 0 or price <= 0:
        return None
    needed = margin * cost
    if take_profit > price and math.isfinite(take_profit):
        distance, what = take_profit / price - 1, "take-profit"
    else:
        distance, what = 1 - stop_loss / price, "no take-profit, so the stop distance"
    if distance >= needed:
        return None
    return (
        f"{what} {_percent(distance)} is under {margin:g} × the {_percent(cost)} round-trip "
        f"cost ({_percent(needed)}): fees and slippage would eat the gain; widen "
        "risk.take_profit_atr_multiple or trade where fees are lower"
    )


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2f} %"


def breakeven_accuracy(
    stop_multiple: float, take_profit_multiple: float, cost: float, margin: float
) -> float:
    """The share of entries that must reach their take-profit for the book to break even
    after costs, in the least favourable trade the gate admits.

    With no costs it is stop / (stop + target): 2 / (2 + 3) = 40 % by default. A win then
    earns the target less the cost and a loss costs the stop plus the cost; the gate lets
    the cost reach target / margin at most, so in target units a win is t(1 - 1/m) and a
    loss s + t/m, and the break-even (s + t/m) / (s + t): 60 % with the default margin of 3.
    Wider ATRs make the cost a smaller share and the true break-even lower; learning is
    judged against this bound, the one every admitted entry is sure to meet.
    """
    share = 1 / margin if cost > 0 and margin > 0 else 0.0
    loss = stop_multiple + take_profit_multiple * share
    return loss / (stop_multiple + take_profit_multiple)
