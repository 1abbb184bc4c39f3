"""Brokers turn approved orders into fills. The paper broker's wallet lives in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Balance, Fill, Order
from risk import ApprovedOrder


class BrokerError(Exception):
    """The broker could not execute an order; the message says why."""


@dataclass(frozen=True)
class Execution:
    order: Order
    fill: Fill | None
    duplicate: bool = False  # the client order id was already executed


class Broker(Protocol):
    name: str

    def ensure_wallet(self, session: Session) -> None: ...

    def cash(self, session: Session) -> float: ...

    def execute(self, session: Session, order: ApprovedOrder, now: datetime) -> Execution: ...

    def cancel_open_orders(self, session: Session, now: datetime) -> int: ...


class PaperBroker:
    """Fills market orders at once at the given price, moved against you by slippage, less fees."""

    name = "paper"

    def __init__(
        self, quote_currency: str, starting_capital: float, fee_rate: float, slippage_rate: float
    ) -> None:
        self.quote = quote_currency
        self.starting_capital = starting_capital
        self.fee_rate = fee_rate
        self.slippage_rate = slippage_rate

    def ensure_wallet(self, session: Session) -> None:
        if session.get(Balance, self.quote) is None:
            session.add(Balance(currency=self.quote, total=self.starting_capital))
            session.flush()

    def cash(self, session: Session) -> float:
        balance = session.get(Balance, self.quote)
        return balance.total if balance else 0.0

    def execute(self, session: Session, order: ApprovedOrder, now: datetime) -> Execution:
        if not order.approved:
            raise BrokerError(f"{order.pair}: order did not pass the risk gate; refused")
        existing = session.scalar(
            select(Order).where(Order.client_order_id == order.client_order_id)
        )
        if existing is not None:
            fill = session.scalar(select(Fill).where(Fill.order_id == existing.id))
            return Execution(existing, fill, duplicate=True)

        base = order.pair.split("/")[0]
        slip = 1 + self.slippage_rate if order.side == "buy" else 1 - self.slippage_rate
        price = order.price * slip
        value = order.amount * price
        fee = value * self.fee_rate
        quote_balance = self._balance(session, self.quote)
        base_balance = self._balance(session, base)
        if order.side == "buy":
            if quote_balance.total < value + fee:
                raise BrokerError(
                    f"{order.pair}: insufficient {self.quote}: need {value + fee:.2f}, "
                    f"have {quote_balance.total:.2f}"
                )
            quote_balance.total -= value + fee
            base_balance.total += order.amount
        else:
            if base_balance.total < order.amount * (1 - 1e-9):
                raise BrokerError(
                    f"{order.pair}: insufficient {base}: need {order.amount:.8g}, "
                    f"have {base_balance.total:.8g}"
                )
            base_balance.total = max(0.0, base_balance.total - order.amount)
            quote_balance.total += value - fee

        row = Order(
            client_order_id=order.client_order_id,
            decision_id=order.decision_id,
            ts=now,
            pair=order.pair,
            side=order.side,
            kind="market",
            amount=order.amount,
            price=order.price,
            status="filled",
            reason=order.reason,
        )
        session.add(row)
        session.flush()
        fill = Fill(
            order_id=row.id,
            ts=now,
            pair=order.pair,
            side=order.side,
            amount=order.amount,
            price=price,
            fee=fee,
        )
        session.add(fill)
        session.flush()
        return Execution(row, fill)

    def cancel_open_orders(self, session: Session, now: datetime) -> int:
        # Paper market orders fill at once, so nothing is ever left open.
        return 0

    def _balance(self, session: Session, currency: str) -> Balance:
        balance = session.get(Balance, currency)
        if balance is None:
            balance = Balance(currency=currency, total=0.0)
            session.add(balance)
        return balance
