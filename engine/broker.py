"""The broker seam: what every broker (paper, exchange) offers the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engine.errors import PermanentError
from risk import ApprovedOrder


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


class Broker(Protocol):
    name: str

    def cash(self) -> float: ...

    def balances(self) -> dict[str, float]: ...

    def submit(self, order: ApprovedOrder, now: datetime) -> BrokerFill:
        """Place an approved order. Idempotent by client order id."""
        ...

    def fetch_order(self, client_order_id: str) -> BrokerFill | None: ...

    def orders(self) -> list[BrokerFill]: ...

    def cancel_open_orders(self, now: datetime) -> int: ...
