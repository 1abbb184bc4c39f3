"""The Performance page: profit by day and by pair, summed by the database (GROUP BY), and
the paper account's resets.

Days follow the dashboard's timezone, which the database does not know: the query shifts
each exit by the zone's UTC offset in force then, so the database still returns one row a day.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Integer, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from data.queries.frames import read_frame
from data.store.account_resets import AccountReset
from data.store.db import as_utc
from data.store.models import Trade


class epoch_seconds(FunctionElement):
    """Seconds since 1970 of a UTC timestamp column, in each dialect's words."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element, compiler, **kw) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element, compiler, **kw) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


_WON = func.sum(case((Trade.pnl > 0, 1), else_=0))
_EXITS_SPAN = select(func.min(Trade.exit_ts), func.max(Trade.exit_ts))
DAY_SECONDS = 86_400


def profit_by_day(
    engine: Engine, zone: tzinfo = UTC, since: datetime | None = None
) -> pd.DataFrame:
    """Closed trades (exited at or after `since`, if given) per day of their exit in `zone`
    (the dashboard's timezone): day, trades, wins, win_rate, pnl, fees, newest day first. The
    database shifts each exit by its zone's UTC offset then (daylight saving included)."""
    columns = ["day", "trades", "wins", "win_rate", "pnl", "fees"]
    with engine.connect() as conn:
        first, last = conn.execute(_exited_since(_EXITS_SPAN, since)).one()
    if first is None:
        return pd.DataFrame(columns=columns)
    epoch = epoch_seconds(Trade.exit_ts)
    day = ((epoch + _utc_offset(zone, first, last)) // DAY_SECONDS).label("day")
    statement = (
        select(
            day,
            func.count(Trade.id).label("trades"),
            _WON.label("wins"),
            func.sum(Trade.pnl).label("pnl"),
            func.sum(Trade.fees).label("fees"),
        )
        .group_by(day)
        .order_by(day.desc())
    )
    frame = read_frame(engine, _exited_since(statement, since))
    frame["day"] = pd.to_datetime(frame["day"].astype("int64") * DAY_SECONDS, unit="s").dt.date
    frame["win_rate"] = frame["wins"].astype(float) / frame["trades"].astype(float)
    return frame[columns]


def _exited_since(statement, since: datetime | None):
    if since is None:
        return statement
    return statement.where(Trade.exit_ts >= as_utc(since).astimezone(UTC))  # stored as UTC


def _utc_offset(zone: tzinfo, first: datetime, last: datetime):
    """`zone`'s UTC offset in seconds at each exit, as SQL: a constant, or a CASE over the
    offset changes (daylight saving) between the first exit and the last, found hour by hour."""
    hours = pd.date_range(
        pd.Timestamp(as_utc(first)).floor("h"), pd.Timestamp(as_utc(last)).ceil("h"), freq="h"
    )
    offsets = (hours.tz_convert(zone).tz_localize(None) - hours.tz_localize(None)).total_seconds()
    changes = np.flatnonzero(np.diff(offsets)) + 1
    if not len(changes):
        return literal(int(offsets[0]))
    # Newest change first: the first WHEN an exit passes is the offset in force. Compared on
    # the stored time, not `epoch`: cheaper than converting it once more.
    whens = [(Trade.exit_ts >= hours[i].to_pydatetime(), int(offsets[i])) for i in changes[::-1]]
    return case(*whens, else_=int(offsets[0]))


def profit_by_pair(engine: Engine, since: datetime | None = None) -> pd.DataFrame:
    """Closed trades (exited at or after `since`, if given) per pair: pair, trades, wins,
    win_rate, pnl, fees, best, worst, most profitable first."""
    statement = (
        select(
            Trade.pair,
            func.count(Trade.id).label("trades"),
            _WON.label("wins"),
            func.sum(Trade.pnl).label("pnl"),
            func.sum(Trade.fees).label("fees"),
            func.max(Trade.pnl).label("best"),
            func.min(Trade.pnl).label("worst"),
        )
        .group_by(Trade.pair)
        .order_by(func.sum(Trade.pnl).desc())
    )
    columns = ["pair", "trades", "wins", "pnl", "fees", "best", "worst"]
    frame = read_frame(engine, _exited_since(statement, since), columns)
    frame["win_rate"] = frame["wins"].astype(float) / frame["trades"].astype(float)
    return frame[["pair", "trades", "wins", "win_rate", "pnl", "fees", "best", "worst"]]


def account_resets(engine: Engine) -> pd.DataFrame:
    """Every reset of the paper account: ts (market time), capital, previous_equity."""
    statement = select(
        AccountReset.ts, AccountReset.capital, AccountReset.previous_equity
    ).order_by(AccountReset.ts)
    return read_frame(engine, statement, ["ts", "capital", "previous_equity"])
