"""Closed trades: the Trades page, its CSV export, and realised P&L."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, Engine, String, case, func, select, type_coerce

from data.queries.frames import read_frame
from data.store.models import TRADE_COLUMNS, Trade


def trades(engine: Engine) -> pd.DataFrame:
    """Every trade (the CSV export's 100k rows): times come as the database gives them and
    pandas parses them all at once, not SQLAlchemy one value at a time."""
    columns = [_raw_time(getattr(Trade, name)) for name in TRADE_COLUMNS]
    return read_frame(engine, select(*columns).order_by(Trade.id), TRADE_COLUMNS)


def _raw_time(column):
    if isinstance(column.type, DateTime):
        return type_coerce(column, String).label(column.key)
    return column


def trade_summary(engine: Engine) -> dict:
    """Count, wins, net P&L and fees of every closed trade, summed by the database."""
    statement = select(
        func.count(Trade.id),
        func.coalesce(func.sum(case((Trade.pnl > 0, 1), else_=0)), 0),
        func.coalesce(func.sum(Trade.pnl), 0.0),
        func.coalesce(func.sum(Trade.fees), 0.0),
    )
    with engine.connect() as conn:
        count, wins, pnl, fees = conn.execute(statement).one()
    return {"trades": int(count), "wins": int(wins), "pnl": float(pnl), "fees": float(fees)}


def latest_trades(engine: Engine, limit: int) -> pd.DataFrame:
    """The newest `limit` trades, newest first: what the Trades page shows."""
    columns = [getattr(Trade, name) for name in TRADE_COLUMNS]
    statement = select(*columns).order_by(Trade.id.desc()).limit(limit)
    return read_frame(engine, statement, TRADE_COLUMNS)


def trades_csv(frame: pd.DataFrame) -> bytes:
    """Times as ISO text to the second, prices to 10 significant digits; formatted column
    by column (pandas' per-value formatting took seconds on 100k trades)."""
    out = frame.copy()
    if out.empty:
        return out.to_csv(index=False, float_format="%.10g").encode()
    for column in ("entry_ts", "exit_ts"):
        if column in out:
            out[column] = _iso_seconds(out[column])
    for column in out.columns:
        if out[column].dtype == "float64":
            values = out[column].to_numpy()
            text = np.array([f"{value:.10g}" for value in values.tolist()], dtype=object)
            text[np.isnan(values)] = ""  # as to_csv writes a missing value
            out[column] = text
    return out.to_csv(index=False).encode()


def _iso_seconds(times: pd.Series) -> pd.Series:
    """`times.dt.strftime("%Y-%m-%dT%H:%M:%S%z")`, vectorised for UTC times."""
    if str(times.dt.tz) != "UTC":
        return times.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    seconds = times.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    text = np.char.add(np.datetime_as_string(seconds, unit="s"), "+0000").astype(object)
    text[np.isnat(seconds)] = np.nan
    return pd.Series(text, index=times.index, dtype=object)


def realised_pnl(engine: Engine, since: datetime | None = None) -> float:
    statement = select(func.coalesce(func.sum(Trade.pnl), 0.0))
    if since is not None:
        statement = statement.where(Trade.exit_ts >= since)
    with engine.connect() as conn:
        return float(conn.execute(statement).scalar_one())
