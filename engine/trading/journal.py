"""The decision journal: every executed decision followed to its outcome.

A BUY is followed until its position closes (WIN, LOSS or STOPPED) or the horizon passes
(EXPIRED, marked to market). A SELL on a signal is judged by the price some candles later:
a WIN when selling spared the book a fall.

Outcomes are judged after costs. A buy's P&L is its round trip's as booked: fills priced
with their slippage, both fees deducted; so a take-profit that gained less than its fees
is a LOSS. An expired buy is marked as if sold at the mark, paying the sale's slippage and
fee (`sale_cost`). A sell's judgement needs none: selling now or the candles later pays
the same exit costs, and its fill price already carries its slippage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from data.store.db import as_utc
from data.store.models import Candle, Decision, Fill, JournalEntry, Order, Position, Trade

PENDING = "PENDING"
EXPIRED = "EXPIRED"
OUTCOMES = (PENDING, "WIN", "LOSS", "STOPPED", EXPIRED)
STOP_EXITS = ("stop_loss", "trailing_stop")


def open_entry(
    session: Session, decision: Decision, order: Order | None = None, fill: Fill | None = None
) -> JournalEntry | None:
    """Start following an executed decision, from the fill its order got (looked up
    unless the caller has both at hand)."""
    if order is None or fill is None:
        order = session.scalar(select(Order).where(Order.decision_id == decision.id))
        if order is None:
            return None
        fill = session.scalar(select(Fill).where(Fill.order_id == order.id))
    entry = JournalEntry(
        decision_id=decision.id,
        pair=decision.pair,
        action=decision.action,
        confidence=abs(decision.score),
        entry_ts=fill.ts,
        entry_price=fill.price,
        amount=fill.amount,
        order_id=order.id,
    )
    session.add(entry)
    session.flush()
    return entry


def follow(
    session: Session,
    now: datetime,
    marks: Mapping[str, float],
    candle_length: timedelta,
    horizon: timedelta,
    sell_horizon_candles: int,
    sale_cost: float = 0.0,
) -> tuple[list[JournalEntry], bool]:
    """Resolve what can be resolved now: the entries resolved, and whether any entry is
    still followed (when none is, the live loop stops asking until a decision opens one).
    `sale_cost`: the share of a sale's value slippage and the fee take (see `sale_cost`)."""
    resolved, followed = [], session.scalars(_OPEN_ENTRIES).all()
    for entry in followed:
        if entry.outcome == EXPIRED:
            done = _settle_buy(session, entry)
        elif entry.action == "BUY":
            done = _follow_buy(session, entry, now, marks, horizon, sale_cost)
        else:
            done = _follow_sell(session, entry, candle_length, sell_horizon_candles)
        if done:
            resolved.append(entry)
    session.flush()
    return resolved, any(_still_followed(entry) for entry in followed)


def _still_followed(entry: JournalEntry) -> bool:
    """`_open_ended` for a loaded entry."""
    return entry.outcome == PENDING or (entry.outcome == EXPIRED and entry.trade_id is None)


def _open_ended():
    # An EXPIRED buy is still followed: when its trade closes, the real outcome replaces the
    # marked one, so the journal and the agents' records end on what actually happened.
    return (JournalEntry.outcome == PENDING) | (
        (JournalEntry.outcome == EXPIRED) & JournalEntry.trade_id.is_(None)
    )


_OPEN_ENTRIES = select(JournalEntry).where(_open_ended())  # prebuilt: read every candle
_ENTRY_TRADES = (
    select(Trade).where(Trade.entry_order_id == bindparam("order_id")).order_by(Trade.id)
)
_STILL_HELD = select(Position.pair).where(Position.entry_order_id == bindparam("order_id"))


def _settle_buy(session: Session, entry: JournalEntry) -> bool:
    """Resolve a buy once its position is closed, on the whole round trip: a partial sale
    leaves it open (its rest may still lose what the first part made). A stop that closed
    it at a loss is STOPPED (a trailing stop that locked in a profit is a WIN)."""
    params = {"order_id": entry.order_id}
    if session.scalar(_STILL_HELD, params) is not None:
        return False
    trades = session.scalars(_ENTRY_TRADES, params).all()
    if not trades:
        return False
    last = trades[-1]
    pnl = sum(trade.pnl for trade in trades)
    # Each trade's cost is its P&L over its P&L share; a break-even sale's, its coin's.
    cost = sum(
        trade.pnl / trade.pnl_pct if trade.pnl_pct else trade.amount * trade.entry_price
        for trade in trades
    )
    sold = sum(trade.amount for trade in trades)
    price = sum(t.amount * t.exit_price for t in trades) / sold if sold else last.exit_price
    if last.exit_reason in STOP_EXITS and pnl <= 0:
        outcome = "STOPPED"
    else:
        outcome = "WIN" if pnl > 0 else "LOSS"
    _resolve(entry, outcome, as_utc(last.exit_ts), price, pnl)
    entry.exit_reason, entry.trade_id = last.exit_reason, last.id
    entry.pnl_pct = pnl / cost if cost else 0.0
    return True


def _follow_buy(
    session: Session,
    entry: JournalEntry,
    now: datetime,
    marks: Mapping[str, float],
    horizon: timedelta,
    sale_cost: float,
) -> bool:
    if _settle_buy(session, entry):
        return True
    entered = as_utc(entry.entry_ts)
    if now - entered < horizon or entry.pair not in marks:
        return False
    position = session.get(Position, entry.pair)
    entry_fee = position.entry_fee if position is not None else 0.0
    mark = marks[entry.pair]
    cost = entry.amount * entry.entry_price + entry_fee
    proceeds = entry.amount * mark * (1 - sale_cost)  # as if sold at the mark, after costs
    _resolve(entry, EXPIRED, now, mark, proceeds - cost)
    entry.exit_reason = "expired: marked"  # fits the column on every database
    entry.pnl_pct = entry.pnl / cost if cost else 0.0
    return True


def sale_cost(fee_rate: float, slippage_rate: float) -> float:
    """The share of a sale's value lost to slippage (on the price) and the fee (on what the
    slipped price brings), as the paper broker fills a market sell."""
    return 1 - (1 - slippage_rate) * (1 - fee_rate)


def _follow_sell(
    session: Session, entry: JournalEntry, candle_length: timedelta, candles_later: int
) -> bool:
    decision = session.get(Decision, entry.decision_id)
    judged_at = as_utc(decision.candle_ts) + candles_later * candle_length
    later = session.scalar(
        select(Candle)
        .where(Candle.pair == entry.pair, Candle.ts >= judged_at)
        .order_by(Candle.ts)
        .limit(1)
    )
    if later is None:
        return False
    spared = entry.amount * (entry.entry_price - later.close)  # the fall the sale avoided
    outcome = "WIN" if spared > 0 else "LOSS"
    _resolve(entry, outcome, as_utc(later.ts) + candle_length, later.close, spared)
    entry.exit_reason = f"judged {candles_later} candles on"
    entry.pnl_pct = (entry.entry_price - later.close) / entry.entry_price
    return True


def _resolve(entry: JournalEntry, outcome: str, ts: datetime, price: float, pnl: float) -> None:
    entry.outcome = outcome
    entry.exit_ts = ts
    entry.exit_price = price
    entry.pnl = pnl
    entry.duration_s = (ts - as_utc(entry.entry_ts)).total_seconds()
