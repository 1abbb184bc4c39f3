"""The book now and over time: open positions at the last price, and the equity curve."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from data.queries.frames import read_frame
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
