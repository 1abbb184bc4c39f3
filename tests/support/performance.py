"""Closed trades, equity snapshots and resets written straight to the store, for the
Performance queries and pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from data.store.account_resets import AccountReset
from data.store.db import transaction
from data.store.models import EquitySnapshot, Order, Trade


def add_trades(
    factory: sessionmaker[Session], trades: list[tuple[str, datetime, float, float]]
) -> None:
    """(pair, exit time, pnl, fees) each, entered an hour before their exit."""
    with transaction(factory) as session:
        order = Order(
            client_order_id=f"perf-{len(trades)}-{trades[0][1].timestamp():.0f}",
            ts=trades[0][1],
            pair=trades[0][0],
            side="buy",
            amount=1.0,
            price=100.0,
            status="filled",
        )
        session.add(order)
        session.flush()
        session.add_all(
            Trade(
                pair=pair,
                amount=1.0,
                entry_ts=exit_ts,
                entry_price=100.0,
                exit_ts=exit_ts,
                exit_price=100.0 + pnl,
                fees=fees,
                pnl=pnl,
                pnl_pct=pnl / 100.0,
                exit_reason="signal",
                entry_order_id=order.id,
                exit_order_id=order.id,
            )
            for pair, exit_ts, pnl, fees in trades
        )


def add_equity(factory: sessionmaker[Session], points: list[tuple[datetime, float]]) -> None:
    rows = [{"ts": ts, "equity": e, "cash": e, "positions_value": 0.0} for ts, e in points]
    with transaction(factory) as session:
        session.execute(insert(EquitySnapshot), rows)


def add_reset(factory: sessionmaker[Session], ts: datetime, capital: float) -> None:
    with transaction(factory) as session:
        session.add(AccountReset(ts=ts, wall_ts=ts, capital=capital, quote_currency="USDT"))
