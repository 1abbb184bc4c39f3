"""Today's profit and loss, the one figure the pages (the Overview, the sidebar) and the
daily summary alert call "today". In the store, not `data.queries`: the engine sends it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from data.store.account_resets import AccountReset
from data.store.db import as_utc
from data.store.models import EquitySnapshot


def pnl_today(engine: Engine, day_start: datetime, opening_equity: float) -> float | None:
    """Today's profit and loss, the one figure every page calls "today": equity now less
    equity when the day began, so fees, realised and unrealised P&L all count. The day's
    opening equity is the last snapshot before `day_start`; with none (the first day), the
    `opening_equity` the account started with, so the first entries' fees count too. A paper
    account reset since that snapshot opens the day at the reset's capital instead: the old
    account's P&L is not today's. None before any snapshot."""
    day_start = day_start.astimezone(UTC)  # SQLite compares the stored UTC text, zone dropped
    newest_first = (EquitySnapshot.ts.desc(), EquitySnapshot.id.desc())
    with engine.connect() as conn:
        latest = conn.execute(select(EquitySnapshot.equity).order_by(*newest_first)).first()
        if latest is None:
            return None
        opening = conn.execute(
            select(EquitySnapshot.ts, EquitySnapshot.equity)
            .where(EquitySnapshot.ts < day_start)
            .order_by(*newest_first)
        ).first()
        reset = conn.execute(
            select(AccountReset.ts, AccountReset.capital).order_by(AccountReset.id.desc())
        ).first()
    base = opening_equity if opening is None else opening.equity
    if reset is not None and (opening is None or as_utc(reset.ts) > as_utc(opening.ts)):
        base = reset.capital
    return float(latest.equity - base)
