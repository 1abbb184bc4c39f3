"""The Overview's equity curve over the whole history with its drawdown, thinned for the browser.

A long curve is cut into spans of snapshots (by id), each drawn by its low and its high, so
no dip or peak is lost. Span widths are powers of two, so a span keeps its bounds while the
curve grows: finished spans are kept in memory and only the snapshots after them are read
again, instead of scanning hundreds of thousands of rows on every refresh.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from data.queries.frames import read_frame
from data.queries.performance import account_resets
from data.store.models import EquitySnapshot

CURVE_POINTS = 2000  # what a browser draws at once without lag, two per span (low and high)
COLUMNS = ["ts", "equity", "peak", "drawdown"]


@dataclass(frozen=True)
class _Finished:
    """Spans of one store already read: they cover ids first .. first + spans * width - 1."""

    first: int
    width: int
    spans: int
    points: pd.DataFrame  # ts, equity: two a span
    last_id: int  # the last snapshot folded in, with its equity: a replaced store shows
    last_equity: float  # as a different value there


_finished: dict[str, _Finished] = {}
_lock = threading.Lock()


def equity_drawdown(engine: Engine, points: int = CURVE_POINTS) -> pd.DataFrame:
    """The whole equity curve with its drawdown from the running peak, in at most `points`
    points: ts, equity, peak, drawdown (a fraction, 0 or below). The peak starts again at
    each reset of the paper account."""
    with engine.connect() as conn:
        first, last = conn.execute(
            select(func.min(EquitySnapshot.id), func.max(EquitySnapshot.id))
        ).one()
    if first is None:
        return pd.DataFrame(columns=COLUMNS)
    if last - first + 1 <= points:
        statement = select(EquitySnapshot.ts, EquitySnapshot.equity).order_by(EquitySnapshot.id)
        curve = read_frame(engine, statement)
    else:
        curve = _thinned(engine, first, last, points)
    return _with_drawdown(curve, account_resets(engine)["ts"])[COLUMNS]


def _thinned(engine: Engine, first: int, last: int, points: int) -> pd.DataFrame:
    width = 2 ** math.ceil(math.log2((last - first + 1) / (points // 2)))
    key = engine.url.render_as_string(hide_password=True)
    with _lock:
        known = _finished.get(key)
    if known is None or (known.first, known.width) != (first, width) or _replaced(engine, known):
        known = None
    start = known.spans if known else 0
    fresh = _span_points(engine, first, width, start)
    curve = _joined(known, fresh)
    done = (last - first + 1) // width  # spans whose every id is in: they never change
    if done > start:
        finished = _joined(known, fresh[fresh["span"] < done])
        with engine.connect() as conn:
            last_id = first + done * width - 1
            equity = conn.scalar(select(EquitySnapshot.equity).where(EquitySnapshot.id == last_id))
        if equity is not None:  # an id left out (a gap) is checked at the next span's end
            with _lock:
                _finished[key] = _Finished(first, width, done, finished, last_id, equity)
    return curve


def _joined(known: _Finished | None, fresh: pd.DataFrame) -> pd.DataFrame:
    points = fresh[["ts", "equity"]]
    if known is None:
        return points.reset_index(drop=True)
    return pd.concat([known.points, points], ignore_index=True)


def _replaced(engine: Engine, known: _Finished) -> bool:
    """The store under this URL is not the one the spans were read from."""
    with engine.connect() as conn:
        equity = conn.scalar(
            select(EquitySnapshot.equity).where(EquitySnapshot.id == known.last_id)
        )
    return equity != known.last_equity


def _span_points(engine: Engine, first: int, width: int, from_span: int) -> pd.DataFrame:
    """Spans from `from_span` on: each one's low at its start and its high at its end (the
    other way round when it fell), two points a span in time order: span, ts, equity."""
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
        .where(EquitySnapshot.id >= first + from_span * width)
        .group_by(span)
        .order_by(span)
    )
    spans = read_frame(engine, statement)
    if spans.empty:
        return pd.DataFrame(columns=["span", "ts", "equity"])
    # Whether a span rose or fell: its first and last equity, read at once by id.
    ids = [int(i) for i in pd.concat([spans["first_id"], spans["last_id"]]).unique()]
    ends = read_frame(
        engine,
        select(EquitySnapshot.id, EquitySnapshot.equity).where(EquitySnapshot.id.in_(ids)),
    ).set_index("id")["equity"]
    rose = ends.reindex(spans["last_id"]).to_numpy() >= ends.reindex(spans["first_id"]).to_numpy()
    curve = pd.DataFrame(
        {
            "span": np.repeat(spans["span"].to_numpy(), 2),
            "ts": np.column_stack([spans["start"], spans["end"]]).ravel(),
            "equity": np.column_stack(
                [
                    np.where(rose, spans["low"], spans["high"]),
                    np.where(rose, spans["high"], spans["low"]),
                ]
            ).ravel(),
        }
    )
    curve["ts"] = pd.to_datetime(curve["ts"], utc=True)
    return curve


def _with_drawdown(curve: pd.DataFrame, resets: pd.Series) -> pd.DataFrame:
    curve = curve.reset_index(drop=True)
    equity = curve["equity"].astype(float)
    # Which account each point belongs to: the number of resets at or before it.
    account = np.searchsorted(resets.sort_values().to_numpy(), curve["ts"].to_numpy(), "right")
    curve["equity"] = equity
    curve["peak"] = equity.groupby(account).cummax()
    curve["drawdown"] = (equity / curve["peak"] - 1.0).where(curve["peak"] > 0, 0.0)
    return curve
