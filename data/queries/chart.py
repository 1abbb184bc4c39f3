"""The Market page's chart: a pair's candles and the trades made on them."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, select

from data.queries.frames import read_frame
from data.store.models import Candle, Trade


def candles(engine: Engine, pair: str, limit: int = 300) -> pd.DataFrame:
    statement = (
        select(Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume)
        .where(Candle.pair == pair)
        .order_by(Candle.ts.desc())
        .limit(limit)
    )
    frame = read_frame(engine, statement, ["ts", "open", "high", "low", "close", "volume"])
    return frame.iloc[::-1].set_index("ts")


def trade_markers(engine: Engine, pair: str, since: datetime) -> pd.DataFrame:
    statement = select(
        Trade.entry_ts,
        Trade.entry_price,
        Trade.exit_ts,
        Trade.exit_price,
        Trade.exit_reason,
        Trade.pnl,
    ).where(Trade.pair == pair, Trade.exit_ts >= since)
    return read_frame(engine, statement, ["entry_ts", "entry_price", "exit_ts", "exit_price"])
