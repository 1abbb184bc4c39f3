"""An exchange's order limits, checked before sending: what it would refuse is not sent, and
what is too small to sell is dust, not a mismatch."""

from __future__ import annotations

from engine.venues.errors import PermanentError
from risk import ApprovedOrder

# A market buy the live price pushed over exchange.max_order_value is shrunk under it when
# the price rose at most this much since the gate sized it (the ticker moves between the
# decision's price and the send); beyond that its size and stops are stale: not sent.
CAP_SHRINK_TOLERANCE = 0.02


class OrderBelowMinimum(PermanentError):
    """The exchange would refuse the order as too small; it was not sent."""


class OrderAboveMaximum(PermanentError):
    """The order is worth more than exchange.max_order_value; it was not sent."""


def check_order_limits(
    order: ApprovedOrder,
    amount: float,
    value: float,
    limits: dict,
    *,
    exchange_id: str,
    quote: str,
    max_order_value: float,
) -> None:
    """Raise if `amount` (at the exchange's precision), worth `value`, breaks a limit."""
    min_amount = (limits.get("amount") or {}).get("min") or 0.0
    min_value = (limits.get("cost") or {}).get("min") or 0.0
    what = f"{order.pair} {order.side} {order.amount:.8g} (worth {value:.2f} {quote})"
    if amount <= 0 or amount < min_amount:
        raise OrderBelowMinimum(
            f"{what}: below {exchange_id}'s minimum amount {min_amount:g}; not sent"
        )
    if value < min_value:
        raise OrderBelowMinimum(
            f"{what}: below {exchange_id}'s minimum order value {min_value:g} {quote}; not sent"
        )
    if order.side == "buy" and value > max_order_value * (1 + 1e-9):
        raise OrderAboveMaximum(
            f"{what}: above exchange.max_order_value {max_order_value:g} {quote}; not sent"
        )


def check_price_move(
    order: ApprovedOrder, amount: float, price: float, max_order_value: float, quote: str
) -> None:
    """Raise unless a buy worth more than the cap at the live `price` may be shrunk under
    it: a market order whose price rose at most CAP_SHRINK_TOLERANCE since it was sized."""
    moved = price / order.price - 1 if order.price > 0 else float("inf")
    if order.order_type != "market" or moved > CAP_SHRINK_TOLERANCE:
        raise OrderAboveMaximum(
            f"{order.pair} buy {amount:.8g} (worth {amount * price:.2f} {quote}): above "
            f"exchange.max_order_value {max_order_value:g} {quote}, and the price moved "
            f"{moved:+.2%} since the order was sized (shrunk only within "
            f"{CAP_SHRINK_TOLERANCE:.0%}); not sent"
        )


def least_sellable(limits: dict, price: float | None = None, step: float = 0.0) -> float:
    """Less than this cannot be sold: below the minimum amount, below one lot `step` (the
    amount is rounded down to it), or (at `price`) below the minimum order value."""
    least = max(float((limits.get("amount") or {}).get("min") or 0.0), step)
    min_value = float((limits.get("cost") or {}).get("min") or 0.0)
    if price and min_value:
        least = max(least, min_value / price)
    return least
