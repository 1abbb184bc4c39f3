"""The broker seam: what every broker (paper, exchange) offers the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engine.venues.errors import PermanentError
from risk import ApprovedOrder

OWN_PREFIX = "volt-"  # every client order id VOLT makes starts with it


def placed_by_volt(client_order_id: str) -> bool:
    """The one test of whether an order is VOLT's: anything else on the account is its owner's."""
    return client_order_id.startswith(OWN_PREFIX)


class InsufficientFunds(PermanentError):
    """The account cannot pay for the order."""


@dataclass(frozen=True)
class BrokerFill:
    """An order as the broker reports it: filled `amount` at `price`, `fee` in quote."""

    client_order_id: str
    pair: str
    side: str
    amount: float
    price: float
    fee: float
    ts: datetime
    requested_price: float
    duplicate: bool = False  # the broker already had this client order id
    # What the exchange filled before a fee taken in the coin bought, and the amount sent
    # after its lot-size rounding: the auditor judges the fill against these.
    filled: float | None = None
    sent_amount: float | None = None
    # The market's price when the order arrived, where the venue says (the paper exchange:
    # the next candle's open under broker.fill_at = "next_open"). The auditor measures
    # slippage from it: the market's move between the decision's close and the order's
    # arrival is no fault of the fill. None: measured from the decision's price.
    market_price: float | None = None

    @property
    def ours(self) -> bool:
        return placed_by_volt(self.client_order_id)


@dataclass(frozen=True)
class OpenOrder:
    """An order resting on the exchange (VOLT's own, or its owner's)."""

    client_order_id: str
    exchange_order_id: str
    pair: str
    side: str
    amount: float
    filled: float
    price: float

    @property
    def ours(self) -> bool:
        return placed_by_volt(self.client_order_id)


class Broker(Protocol):
    name: str
    exclusive_account: bool  # True when every coin in the account is VOLT's (paper)
    # A broker whose account is not exclusive also has `quote` (its currency) and `capital`
    # (the quote VOLT was given): VOLT counts its own cash from them (engine.trading.book).

    def cash(self) -> float: ...

    def balances(self) -> dict[str, float]: ...

    def submit(self, order: ApprovedOrder, now: datetime) -> BrokerFill:
        """Place an approved order. Idempotent by client order id."""
        ...

    def fetch_order(self, client_order_id: str) -> BrokerFill | None: ...

    def settle_unknown(self, order: ApprovedOrder) -> BrokerFill | None:
        """After a send with no clear answer: the order if it executed, None once it is known
        it never did; raises OrderStatusUnknown while that cannot be told."""
        ...

    def settle_in_doubt(self) -> list[str]:
        """Settle every order still unknown (before reconciling); one finding each."""
        ...

    def orders(self) -> list[BrokerFill]:
        """Filled orders the broker knows of (recent ones, for an exchange)."""
        ...

    def open_orders(self) -> list[OpenOrder]: ...

    def cancel_order(self, order) -> None: ...

    def cancel_open_orders(self, now: datetime) -> int:
        """Cancel VOLT's own open orders; returns how many."""
        ...

    def dust(self, pair: str, price: float | None = None) -> float:
        """Holdings below this cannot be sold (below the minimum amount, or at `price` below
        the minimum order value), so they are no mismatch."""
        ...
