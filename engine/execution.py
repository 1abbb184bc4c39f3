"""Placing an order without ever doubling it, and recording what the broker reports."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Fill, Order
from engine.broker import Broker, BrokerFill
from engine.errors import TemporaryError
from engine.retry import with_retries
from risk import ApprovedOrder

log = logging.getLogger("volt.execution")
SUBMIT_ATTEMPTS = 3


def place_order(broker: Broker, order: ApprovedOrder, now: datetime) -> BrokerFill:
    """Submit once; when the outcome is unknown, look the order up before sending it again."""
    cid = order.client_order_id
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return broker.submit(order, now)
        except TemporaryError as exc:
            log.warning(
                "%s %s %s: %s (attempt %d of %d); looking it up before any resend",
                order.pair,
                order.side,
                cid,
                exc,
                attempt,
                SUBMIT_ATTEMPTS,
                extra={"kind": "order_unknown"},
            )
            found = with_retries(lambda: broker.fetch_order(cid), f"look up order {cid}")
            if found is not None:
                return found
    raise TemporaryError(f"{cid}: not placed after {SUBMIT_ATTEMPTS} attempts")


def record_fill(
    session: Session, fill: BrokerFill, reason: str, decision_id: int | None
) -> tuple[Order, Fill]:
    """The engine's own record of a broker fill; a second call for the same id is a no-op."""
    order = session.scalar(select(Order).where(Order.client_order_id == fill.client_order_id))
    if order is not None:
        return order, session.scalar(select(Fill).where(Fill.order_id == order.id))
    order = Order(
        client_order_id=fill.client_order_id,
        decision_id=decision_id,
        ts=fill.ts,
        pair=fill.pair,
        side=fill.side,
        kind="market",
        amount=fill.amount,
        price=fill.requested_price,
        status="filled",
        reason=reason,
    )
    session.add(order)
    session.flush()
    row = Fill(
        order_id=order.id,
        ts=fill.ts,
        pair=fill.pair,
        side=fill.side,
        amount=fill.amount,
        price=fill.price,
        fee=fill.fee,
    )
    session.add(row)
    session.flush()
    return order, row
