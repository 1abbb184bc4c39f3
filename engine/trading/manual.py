"""Orders asked for from outside the loop: close a position, flatten the book, cancel the
open orders. Each needs only an `Account`, so the kill switch works with the worker dead
and no agents built; every close goes through risk like any other order."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.store.db import as_utc, transaction
from data.store.models import Decision, Position
from engine.trading import book
from engine.trading.account import Account
from engine.trading.approve import approve_exit
from engine.trading.execution import send_exit
from engine.venues.errors import TemporaryError
from engine.venues.retry import with_retries
from risk import OrderIntent

__all__ = ["Account", "cancel_open_orders", "close_position", "current_price", "flatten"]
log = logging.getLogger("volt.trader")


def close_position_candle(session: Session, position: Position) -> datetime:
    """The candle a close's client order id is derived from when the loop has seen none (the
    kill switch, with the worker dead): the pair's last decided candle, else the position's
    entry. Never the clock: each retry of a close must resend under the same id, so a sale
    the exchange kept is found, never doubled."""
    last = session.scalar(
        select(func.max(Decision.candle_ts)).where(Decision.pair == position.pair)
    )
    return as_utc(last if last is not None else position.entry_ts)


def close_position(account: Account, pair: str, reason: str, tag: str) -> str:
    """Close one position at the current price, through risk like any other order."""
    now = account.clock.now()
    price = current_price(account, pair, now)
    with transaction(account.factory) as session:
        position = session.get(Position, pair)
        if position is None:
            return f"{pair}: no open position"
        candle_ts = account.last_candle.get(pair) or close_position_candle(session, position)
        intent = OrderIntent(pair, "sell", price, account.order_id(pair, candle_ts, tag), reason)
        approved = approve_exit(account, session, intent)
    trade = send_exit(account, approved, now)
    with account.factory() as session:
        rest = session.get(Position, pair)
        rest = f"; {rest.amount:.6g} still open with its stop" if rest else ""
    # Its own transaction: a failed snapshot must not roll back a recorded close.
    with transaction(account.factory) as session:
        book.snapshot_equity(session, account.broker, account.marks, now)
    done = "sold only" if rest else "closed"
    return (
        f"{done} {pair} {trade.amount:.6g} at {trade.exit_price:.6g} (P&L {trade.pnl:+.2f}){rest}"
    )


def flatten(account: Account, reason: str, tag: str) -> tuple[list[str], list[str]]:
    """Close every open position; returns (what was done, what failed and why)."""
    closed, failed = [], []
    with account.factory() as session:
        pairs = list(book.open_positions(session))
    now = account.clock.now()
    for pair in pairs:  # price everything first, so every snapshot values the whole book
        try:
            current_price(account, pair, now)
        except Exception as exc:
            log.warning("no price for %s before the flatten: %s", pair, exc)
    for pair in pairs:
        try:
            closed.append(close_position(account, pair, reason, f"{tag}-{pair.split('/')[0]}"))
        except Exception as exc:
            log.exception("could not close %s", pair)
            failed.append(f"{pair}: {exc}")
    try:
        closed.append(cancel_open_orders(account))
    except Exception as exc:  # an open order may still fill: that is a failure too
        log.exception("could not cancel the open orders")
        failed.append(f"open orders not cancelled: {type(exc).__name__}: {exc}")
    with account.factory() as session:
        left = sorted(book.open_positions(session))
    for pair in left:
        if not any(f.startswith(pair) for f in failed):
            failed.append(f"{pair}: still open after the flatten")
    return closed, failed


def cancel_open_orders(account: Account) -> str:
    cancelled = account.broker.cancel_open_orders(account.clock.now())
    return f"cancelled {cancelled} open orders"


def current_price(account: Account, pair: str, now: datetime) -> float:
    """The pair's price now (kept as its mark): the live ticker, or the last candle's close."""
    feed, marks = account.feed, account.marks
    last_price = getattr(feed, "last_price", None)  # a live ticker, where there is one
    if last_price is not None:
        marks[pair] = with_retries(lambda: last_price(pair), f"{pair} price")
        return marks[pair]
    candles = with_retries(lambda: feed.candles(pair, now, 1), f"{pair} price")
    if candles.empty:
        raise TemporaryError(f"{pair}: the {feed.name} feed has no price yet")
    marks[pair] = float(candles["close"].iloc[-1])
    return marks[pair]
