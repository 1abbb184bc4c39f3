"""The trading book: open positions, round-trip trades and equity, kept in the database."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select, update
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
    own = own_cash(session, broker, positions)
    value = sum(p.amount * marks.get(p.pair, p.entry_price) for p in positions.values())
    views = {
        pair: OpenPosition(pair, p.amount, p.entry_price, p.entry_fee, p.stop_loss, p.take_profit)
        for pair, p in positions.items()
    }
    # Equity and cash are VOLT's own; an entry may spend no more than the account has free.
    free = None if broker.exclusive_account else broker.cash()
    return PortfolioView(equity=own + value, cash=own, positions=views, spendable=free)


_REALISED = select(func.coalesce(func.sum(Trade.pnl), 0.0))


def own_cash(session: Session, broker: Broker, positions: Mapping[str, Position]) -> float:
    """VOLT's cash. An account only VOLT trades (paper): all of it. An exchange account
    its owner may also use: the capital VOLT was given (broker.starting_capital), plus
    its realised P&L, less what its open positions cost, capped by the quote the account
    really holds (free or locked). So quote, coins and orders someone else moves on the
    account leave VOLT's equity, daily loss and drawdown alone, while money taken out
    from under VOLT still shows."""
    if broker.exclusive_account:
        return broker.cash()
    # This broker's round trips only: paper trades in the same database are not its P&L
    # (trades booked before Trade.account existed count on no exchange account).
    mine = _REALISED.where(Trade.account == broker.name)
    realised = float(session.execute(mine).scalar_one())
    cost = sum(p.amount * p.entry_price + p.entry_fee for p in positions.values())
    held = broker.balances().get(broker.quote, 0.0)
    return max(0.0, min(broker.capital + realised - cost, held))


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
    session: Session,
    order: Order,
    fill: Fill,
    reason: str,
    dust: float = 0.0,
    account: str | None = None,
) -> Trade:
    """Book a sale. Selling less than held (a thin book, an expired market order) books a
    trade for what was sold, with its share of the entry cost and fee, and keeps the rest
    open with its stop and take profit.

    A rest below `dust` cannot be sold (below the exchange's minimum amount, order value or
    lot step: what a fee taken in the coin bought leaves once the sale is rounded down to
    the lot size). It belongs to this round trip and is written off in it: the trade bears
    the whole position's cost, so its P&L counts the rest as lost, and `Trade.dust` says
    how much coin was left. It is never a position or a trade of its own; the coin stays
    in the account, where reconciliation expects it (see `reconcile.holdings_mismatches`)."""
    position = session.get(Position, fill.pair)
    held = position.amount
    sold = min(fill.amount, held)
    rest = held - sold
    if rest <= held * ROUNDING:
        trade = _book_trade(session, position, order, sold, 1.0, fill, reason)
        session.delete(position)
    elif rest < dust:
        trade = _book_trade(session, position, order, sold, 1.0, fill, reason, written_off=rest)
        session.delete(position)
        log.info(
            "%s: %.8g left after the sale cannot be sold (below the exchange's minimum); "
            "written off in this trade (cost %.4f), it stays in the account",
            fill.pair,
            rest,
            rest * position.entry_price,
            extra={"kind": "dust"},
        )
    else:
        share = sold / held
        trade = _book_trade(session, position, order, sold, share, fill, reason)
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
    trade.account = account
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
    written_off: float = 0.0,
) -> Trade:
    """One round trip for `amount` sold of the position, bearing `share` of its entry fee
    and the cost of `written_off` coin left unsold (dust)."""
    entry_fee = position.entry_fee * share
    cost = (amount + written_off) * position.entry_price + entry_fee
    proceeds = amount * fill.price - fill.fee
    trade = Trade(
        pair=fill.pair,
        amount=amount,
        entry_ts=position.entry_ts,
        entry_price=position.entry_price,
        exit_ts=fill.ts,
        exit_price=fill.price,
        fees=entry_fee + fill.fee,
        pnl=proceeds - cost,
        pnl_pct=(proceeds - cost) / cost if cost else 0.0,
        exit_reason=reason,
        dust=written_off,
        entry_order_id=position.entry_order_id,
        exit_order_id=order.id,
    )
    session.add(trade)
    return trade


_OUTSTANDING = (Trade.dust > 0, Trade.dust_gone.is_(False))
_DUST = select(Trade.pair, func.sum(Trade.dust)).where(*_OUTSTANDING).group_by(Trade.pair)


def written_off_dust(session: Session) -> dict[str, float]:
    """Coin each pair's round trips left unsold and wrote off since the account last held no
    more of the coin than VOLT's positions: it may still be in the account, and is neither
    VOLT's position nor foreign. Dust from before then is gone (`dust_seen_gone`)."""
    return {pair: float(total) for pair, total in session.execute(_DUST).all()}


def dust_seen_gone(session: Session, pair: str, up_to_trade: int) -> int:
    """The account holds no more of `pair`'s coin than VOLT's positions (within one unsellable
    rest): the dust written off up to trade `up_to_trade` is no longer expected there, so
    it cannot hide coin its owner adds later. Returns how many trades' dust that was."""
    gone = (
        update(Trade)
        .where(Trade.pair == pair, Trade.id <= up_to_trade, *_OUTSTANDING)
        .values(dust_gone=True)
    )
    return session.execute(gone).rowcount


def last_trade_id(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(Trade.id), 0)))


def booked_before(session: Session, order: Order) -> bool:
    """Whether `order` already opened a position (a buy) or sold one (a sale): a broker
    answering a new order with it answered with an old fill, never to be booked twice."""
    if order.side == "buy":
        opened = select(Position.pair).where(Position.entry_order_id == order.id)
        if session.scalar(opened.limit(1)) is not None:
            return True
        booked = select(Trade.id).where(Trade.entry_order_id == order.id)
    else:
        booked = select(Trade.id).where(Trade.exit_order_id == order.id)
    return session.scalar(booked.limit(1)) is not None


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
