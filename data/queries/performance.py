"""The Performance page and the Overview's drawdown: profit by day and by pair, summed by the
database (GROUP BY), and the equity curve's drawdown, thinned for the browser.

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
from data.store.models import EquitySnapshot, Trade

CURVE_POINTS = 2000  # what a browser draws at once without lag, two per span (low and high)


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


def profit_by_day(engine: Engine, zone: tzinfo = UTC) -> pd.DataFrame:
    """Closed trades per day of their exit in `zone` (the dashboard's timezone): day,
    trades, wins, win_rate, pnl, fees, newest day first. The database shifts each exit by
    its zone's UTC offset at the time (daylight saving included) and sums per day."""
    columns = ["day", "trades", "wins", "win_rate", "pnl", "fees"]
    with engine.connect() as conn:
        first, last = conn.execute(_EXITS_SPAN).one()
    if first is None:
        return pd.DataFrame(columns=columns)
    epoch = epoch_seconds(Trade.exit_ts)
    day = ((epoch + _utc_offset(epoch, zone, first, last)) // DAY_SECONDS).label("day")
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
    frame = read_frame(engine, statement)
    frame["day"] = pd.to_datetime(frame["day"].astype("int64") * DAY_SECONDS, unit="s").dt.date
    frame["win_rate"] = frame["wins"].astype(float) / frame["trades"].astype(float)
    return frame[columns]


def _utc_offset(epoch, zone: tzinfo, first: datetime, last: datetime):
    """`zone`'s UTC offset in seconds at each exit, as SQL: a constant, or a CASE over the
    offset changes (daylight saving) between the first exit and the last, found hour by hour."""
    hours = pd.date_range(
        pd.Timestamp(as_utc(first)).floor("h"), pd.Timestamp(as_utc(last)).ceil("h"), freq="h"
    )
    offsets = (hours.tz_convert(zone).tz_localize(None) - hours.tz_localize(None)).total_seconds()
    changes = np.flatnonzero(np.diff(offsets)) + 1
    if not len(changes):
        return literal(int(offsets[0]))
    # Newest change first: the first WHEN an exit passes is the offset in force.
    whens = [(epoch >= int(hours[i].timestamp()), int(offsets[i])) for i in changes[::-1]]
    return case(*whens, else_=int(offsets[0]))


def profit_by_pair(engine: Engine) -> pd.DataFrame:
    """Closed trades per pair: pair, trades, wins, win_rate, pnl, fees, best, worst, most
    profitable first."""
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
    frame = read_frame(engine, statement, columns)
    frame["win_rate"] = frame["wins"].astype(float) / frame["trades"].astype(float)
    return frame[["pair", "trades", "wins", "win_rate", "pnl", "fees", "best", "worst"]]


def account_resets(engine: Engine) -> pd.DataFrame:
    """Every reset of the paper account: ts (market time), capital, previous_equity."""
    statement = select(
        AccountReset.ts, AccountReset.capital, AccountReset.previous_equity
    ).order_by(AccountReset.ts)
    return read_frame(engine, statement, ["ts", "capital", "previous_equity"])


def equity_drawdown(engine: Engine, points: int = CURVE_POINTS) -> pd.DataFrame:
    """The whole equity curve with its drawdown from the running peak, in at most about
    `points` points: ts, equity, peak, drawdown (a fraction, 0 or below). A long curve is
    cut into spans of snapshots, each drawn by its low and its high, so no dip or peak is
    lost. The peak starts again at each reset of the paper account."""
    with engine.connect() as conn:
        first, last, rows = conn.execute(
            select(func.min(EquitySnapshot.id), func.max(EquitySnapshot.id), func.count())
        ).one()
    columns = ["ts", "equity", "peak", "drawdown"]
    if not rows:
        return pd.DataFrame(columns=columns)
    if rows <= points:
        statement = select(EquitySnapshot.ts, EquitySnapshot.equity).order_by(EquitySnapshot.id)
        curve = read_frame(engine, statement)
    else:
        curve = _spans(engine, first, last, points)
    resets = account_resets(engine)["ts"]
    return _with_drawdown(curve, resets)[columns]


def _spans(engine: Engine, first: int, last: int, points: int) -> pd.DataFrame:
    """Each span's low at its start and its high at its end (or the other way round when
    it fell): two points a span, in time order."""
    width = -(-(last - first + 1) // (points // 2))  # snapshots per span, rounded up
    span = ((EquitySnapshot.id - first) // width).label("span")
    statement = (
        select(
            span,
            func.min(EquitySnapshot.ts).label("start"),
            func.max(EquitySnapshot.ts).label("end"),
            func.min(EquitySnapshot.equity).label("low"),
            func.max(EquitySnapshot.equity).label("high"),
            func.min(EquitySnapshot.id).label("first_id"),
            func.max(EquitySnapshot.id).label("last_id"),
        )
        .group_by(span)
        .order_by(span)
    )
    spans = read_frame(engine, statement)
    # Whether a span rose or fell: its first and last equity, two indexed look-ups a span
    # would cost more than the one read of both ends here.
    ends = read_frame(
        engine,
        select(EquitySnapshot.id, EquitySnapshot.equity).where(
            EquitySnapshot.id.in_(
                [int(i) for i in pd.concat([spans["first_id"], spans["last_id"]]).unique()]
            )
        ),
    ).set_index("id")["equity"]
    rose = ends.reindex(spans["last_id"]).to_numpy() >= ends.reindex(spans["first_id"]).to_numpy()
    start_value = np.where(rose, spans["low"], spans["high"])
    end_value = np.where(rose, spans["high"], spans["low"])
    curve = pd.DataFrame(
        {
            "ts": np.concatenate([spans["start"], spans["end"]]),
            "equity": np.concatenate([start_value, end_value]),
            "order": np.concatenate([np.arange(len(spans)) * 2, np.arange(len(spans)) * 2 + 1]),
        }
    )
    curve["ts"] = pd.to_datetime(curve["ts"], utc=True)
    return curve.sort_values("order")[["ts", "equity"]].reset_index(drop=True)


def _with_drawdown(curve: pd.DataFrame, resets: pd.Series) -> pd.DataFrame:
    curve = curve.reset_index(drop=True)
    equity = curve["equity"].astype(float)
    # Which account each point belongs to: the number of resets at or before it.
    account = np.searchsorted(resets.sort_values().to_numpy(), curve["ts"].to_numpy(), "right")
    curve["equity"] = equity
    curve["peak"] = equity.groupby(account).cummax()
    curve["drawdown"] = (equity / curve["peak"] - 1.0).where(curve["peak"] > 0, 0.0)
    return curve
