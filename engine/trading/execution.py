"""Placing an order without ever doubling it, and recording what the broker reports."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from data.store.models import Fill, Order
from engine.venues.broker import Broker, BrokerFill
from engine.venues.errors import OrderStatusUnknown, TemporaryError
from engine.venues.retry import with_retries
from risk import ApprovedOrder

log = logging.getLogger("volt.execution")
SUBMIT_ATTEMPTS = 3


def place_order(broker: Broker, order: ApprovedOrder, now: datetime) -> BrokerFill:
    """Submit once. When the outcome is unknown, nothing is sent again until the broker knows
    the first send can no longer execute; if it cannot tell, OrderStatusUnknown goes up and
    reconciliation settles the order."""
    cid = order.client_order_id
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return broker.submit(order, now)
        except OrderStatusUnknown as exc:
            log.warning(
                "%s %s %s: %s (attempt %d of %d); looking it up until the exchange can tell, "
                "before any resend",
                order.pair,
                order.side,
                cid,
                exc,
                attempt,
                SUBMIT_ATTEMPTS,
                extra={"kind": "order_unknown"},
            )
            try:
                found = broker.settle_unknown(order)
            except OrderStatusUnknown as still:
                log.error("%s", still, extra={"kind": "order_unknown"})
                raise
            if found is not None:
                return found
            log.info("%s: the exchange never executed it; sending it again", cid)
        except TemporaryError as exc:
            # Refused before it reached the matching engine (rate limit, clock): resending
            # is safe, and the broker looks the id up before any send anyway.
            log.warning(
                "%s %s %s: %s (attempt %d of %d); looking it up before a resend",
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


_ORDER_BY_CLIENT_ID = select(Order).where(Order.client_order_id == bindparam("client_order_id"))


def record_fill(
    session: Session, fill: BrokerFill, reason: str, decision_id: int | None
) -> tuple[Order, Fill]:
    """The engine's own record of a broker fill; a second call for the same id is a no-op."""
    order = session.scalar(_ORDER_BY_CLIENT_ID, {"client_order_id": fill.client_order_id})
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
