"""Orders on their way to the broker: written before each send, removed when its fill is
booked. A worker killed in between leaves the row, and reconciliation books the fill it
finds by client order id with the decision and the reason the order was sent for (a
stop-loss sale stays a stop-loss sale) and the stops its entry was approved with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from data.store.models import Base


class PendingOrder(Base):
    """One order sent (or about to be) whose fill is not booked yet."""

    __tablename__ = "pending_orders"
    client_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key: a decision whose order failed is taken back (deleted) and decided
    # again under the same client order id, which then overwrites this row.
    decision_id: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime]
    pair: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    reason: Mapped[str] = mapped_column(Text)  # the trade's exit_reason: never blocks a send
    stop_loss: Mapped[float] = mapped_column(Float, default=0.0)  # an entry's approved stops
    take_profit: Mapped[float] = mapped_column(Float, default=0.0)
    trail_distance: Mapped[float] = mapped_column(Float, default=0.0)
