"""Paper account resets: the marker a fresh paper account leaves in the history. Trades,
decisions and equity snapshots before it are kept; charts draw a line at each reset, and the
daily-loss and drawdown limits measure from the newest one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from data.store.models import Base


class AccountReset(Base):
    """One reset of the paper account to its starting capital."""

    __tablename__ = "account_resets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)  # market time: where charts mark it
    wall_ts: Mapped[datetime]  # the computer's clock when it was done
    capital: Mapped[float] = mapped_column(Float)  # the new account's cash
    previous_equity: Mapped[float | None] = mapped_column(Float)  # the old account's last
    quote_currency: Mapped[str] = mapped_column(String(16))
    command_id: Mapped[int | None] = mapped_column(ForeignKey("commands.id"))
