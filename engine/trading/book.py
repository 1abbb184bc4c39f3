"""The trading book: open positions, round-trip trades and equity, kept in the database."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.store.models import EquitySnapshot, Fill, Order, Position, Trade
from data.types import OpenPosition, PortfolioView
from engine.venues.binance.client_ids import rest_order_id
from engine.venues.broker import Broker
from risk import OrderIntent

log = logging.getLogger("volt.book")
ROUNDING = 1e-9  # a rest this small, relative to the position, is float noise


_POSITIONS = select(Position)  # prebuilt: read every tick


def open_positions(session: Session) -> dict[str, Position]:
    return {p.pair: p for p in session.scalars(_POSITIONS).all()}


def portfolio_view(
    session: Session,
    broker: Broker,
    marks: Mapping[str, float],
    positions: Mapping[str, Position] | None = None,
) -> PortfolioView:
    """The book now; `positions` when the caller has just read them in this session."""
    positions = open_positions(session) if positions is None else positions
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


def record_exit(
    session: Session, order: Order, fill: Fill, reason: str, dust: float = 0.0
) -> Trade:
    """Book a sale. Selling less than held (a thin book, an expired market order) books a
    trade for what was sold, with its share of the entry cost and fee, and keeps the rest
    open with its stop and take profit. A rest below `dust` (the exchange would refuse to
    sell it) is closed as dust: it stays in the account, its cost written off."""
    position = session.get(Position, fill.pair)
    held = position.amount
    sold = min(fill.amount, held)
    share = sold / held if held else 1.0
    trade = _book_trade(session, position, order, sold, share, fill, reason, fill.fee)
    rest = held - sold
    if rest <= held * ROUNDING:
        session.delete(position)
    elif rest < dust:
        _book_trade(session, position, order, rest, 1 - share, fill, "dust", 0.0, proceeds=0.0)
        session.delete(position)
        log.warning(
            "%s: %.8g left after the sale is below the exchange's minimum order, so it cannot "
            "be sold; closed as dust (it stays in the account)",
            fill.pair,
            rest,
            extra={"kind": "dust"},
        )
    else:
        position.amount = rest
        position.entry_fee -= position.entry_fee * share
        log.warning(
            "%s: the sale filled %.8g of %.8g; the other %.8g stays open with its stop %.6g",
            fill.pair,
            sold,
            held,
            rest,
            position.stop_loss,
            extra={"kind": "partial_exit"},
        )
    session.flush()
    return trade


def _book_trade(
    session: Session,
    position: Position,
    order: Order,
    amount: float,
    share: float,
    fill: Fill,
    reason: str,
    exit_fee: float,
    proceeds: float | None = None,
) -> Trade:
    """One round trip for `amount` of the position: `share` of its entry fee."""
    entry_fee = position.entry_fee * share
    cost = amount * position.entry_price + entry_fee
    if proceeds is None:
        proceeds = amount * fill.price - exit_fee
    trade = Trade(
        pair=fill.pair,
        amount=amount,
        entry_ts=position.entry_ts,
        entry_price=position.entry_price,
        exit_ts=fill.ts,
        exit_price=fill.price,
        fees=entry_fee + exit_fee,
        pnl=proceeds - cost,
        pnl_pct=(proceeds - cost) / cost if cost else 0.0,
        exit_reason=reason,
        entry_order_id=position.entry_order_id,
        exit_order_id=order.id,
    )
    session.add(trade)
    return trade


def exit_intent(session: Session, intent: OrderIntent) -> OrderIntent:
    """A position already partly sold is sold with an id of its own for each rest: the
    exchange keeps the earlier sale under the first id, and a lookup by that id would find
    that sale again instead of selling the rest."""
    position = session.get(Position, intent.pair)
    if position is None:
        return intent
    sales = session.scalar(
        select(func.count(Trade.id)).where(Trade.entry_order_id == position.entry_order_id)
    )
    if not sales:
        return intent
    return dataclasses.replace(intent, client_order_id=rest_order_id(intent.client_order_id, sales))


def snapshot_equity(
    session: Session,
    broker: Broker,
    marks: Mapping[str, float],
    now: datetime,
    book: PortfolioView | None = None,
) -> EquitySnapshot:
    """Store the book's value now (from `book` when the caller already has it)."""
    book = book or portfolio_view(session, broker, marks)
    row = EquitySnapshot(
        ts=now, equity=book.equity, cash=book.cash, positions_value=book.equity - book.cash
    )
    session.add(row)
    return row
