"""The book now and over time: open positions at the last price, and the equity curve."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, select

from data.queries.frames import read_frame
from data.store.account_resets import AccountReset
from data.store.db import as_utc
from data.store.models import Candle, EquitySnapshot, Position


def open_positions(engine: Engine) -> pd.DataFrame:
    # Each position's newest close, found through the (pair, ts) index: grouping every
    # candle by pair scanned a million rows on each refresh.
    last_price = (
        select(Candle.close)
        .where(Candle.pair == Position.pair)
        .order_by(Candle.ts.desc())
        .limit(1)
        .correlate(Position)
        .scalar_subquery()
    )
    statement = select(
        Position.pair,
        Position.amount,
        Position.entry_price,
        Position.entry_ts,
        Position.stop_loss,
        Position.take_profit,
        Position.entry_fee,
        last_price.label("last_price"),
    ).order_by(Position.pair)
    frame = read_frame(engine, statement, ["pair", "amount", "entry_price", "last_price"])
    if not frame.empty:
        frame["last_price"] = frame["last_price"].fillna(frame["entry_price"])
        frame["value"] = frame["amount"] * frame["last_price"]
        cost = frame["amount"] * frame["entry_price"] + frame["entry_fee"]
        frame["unrealised_pnl"] = frame["value"] - cost
    return frame


def equity_curve(engine: Engine, limit: int = 5000) -> pd.DataFrame:
    statement = (
        select(EquitySnapshot.ts, EquitySnapshot.equity, EquitySnapshot.cash)
        .order_by(EquitySnapshot.id.desc())
        .limit(limit)
    )
    return read_frame(engine, statement, ["ts", "equity", "cash"]).iloc[::-1]


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
