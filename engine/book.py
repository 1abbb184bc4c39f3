"""The trading book: open positions, round-trip trades and equity, kept in the database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import EquitySnapshot, Fill, Order, Position, Trade
from data.types import OpenPosition, PortfolioView
from engine.broker import Broker


def open_positions(session: Session) -> dict[str, Position]:
    return {p.pair: p for p in session.scalars(select(Position)).all()}


def portfolio_view(session: Session, broker: Broker, marks: Mapping[str, float]) -> PortfolioView:
    positions = open_positions(session)
    cash = broker.cash()
    value = sum(p.amount * marks.get(p.pair, p.entry_price) for p in positions.values())
    views = {
        pair: OpenPosition(pair, p.amount, p.entry_price, p.entry_fee, p.stop_loss, p.take_profit)
        for pair, p in positions.items()
    }
    return PortfolioView(equity=cash + value, cash=cash, positions=views)


def record_entry(
    session: Session,
    order: Order,
    fill: Fill,
    stop_loss: float,
    take_profit: float,
    trail_distance: float = 0.0,
) -> Position:
    position = Position(
        pair=fill.pair,
        amount=fill.amount,
        entry_price=fill.price,
        entry_fee=fill.fee,
        entry_ts=fill.ts,
        stop_loss=stop_loss,
        take_profit=take_profit,
        entry_order_id=order.id,
        trail_distance=trail_distance or None,
        peak_price=fill.price if trail_distance else None,
    )
    session.add(position)
    session.flush()
    return position


def record_exit(session: Session, order: Order, fill: Fill, reason: str) -> Trade:
    position = session.get(Position, fill.pair)
    cost = position.amount * position.entry_price + position.entry_fee
    proceeds = fill.amount * fill.price - fill.fee
    trade = Trade(
        pair=fill.pair,
        amount=fill.amount,
        entry_ts=position.entry_ts,
        entry_price=position.entry_price,
        exit_ts=fill.ts,
        exit_price=fill.price,
        fees=position.entry_fee + fill.fee,
        pnl=proceeds - cost,
        pnl_pct=(proceeds - cost) / cost if cost else 0.0,
        exit_reason=reason,
        entry_order_id=position.entry_order_id,
        exit_order_id=order.id,
    )
    session.add(trade)
    session.delete(position)
    session.flush()
    return trade


def snapshot_equity(
    session: Session, broker: Broker, marks: Mapping[str, float], now: datetime
) -> EquitySnapshot:
    book = portfolio_view(session, broker, marks)
    row = EquitySnapshot(
        ts=now, equity=book.equity, cash=book.cash, positions_value=book.equity - book.cash
    )
    session.add(row)
    return row
