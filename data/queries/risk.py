"""The Risk panel: equity against its drawdown peak, protections in force, refused orders."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, or_, select

from data.queries.frames import read_frame
from data.store.db import as_utc, utcnow
from data.store.equity_peak import peak_mark, stored_peak
from data.store.models import EngineState, EquitySnapshot, ProtectionLock, Rejection


def risk_now(conn) -> datetime:
    """The engine's market time (locks and pauses are in market time), else the wall clock."""
    market = conn.execute(select(EngineState.market_time).where(EngineState.id == 1)).scalar()
    return as_utc(market) or utcnow()


def equity_and_peak(engine: Engine) -> dict:
    """The latest equity snapshot and the peak the drawdown limit measures from: the same
    as the engine's, i.e. since the last drawdown pause ended."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(EquitySnapshot.equity).order_by(EquitySnapshot.id.desc()).limit(1)
        ).scalar()
        state = conn.execute(select(EngineState).where(EngineState.id == 1)).first()
        mark = peak_mark(conn, risk_now(conn), stored_peak(state))
    return {"equity": latest, "peak": mark.peak}


def protection_locks(engine: Engine) -> pd.DataFrame:
    """Protections blocking new entries now (as of the engine's last tick): a lock whose
    end time has passed no longer blocks, even before the engine lifts it."""
    columns = ["protection", "pair", "reason", "clears", "ts", "until"]
    with engine.connect() as conn:
        now = risk_now(conn)
    statement = (
        select(*[getattr(ProtectionLock, c) for c in columns])
        .where(
            ProtectionLock.lifted_ts.is_(None),
            or_(ProtectionLock.until.is_(None), ProtectionLock.until > now),
        )
        .order_by(ProtectionLock.id)
    )
    return read_frame(engine, statement, columns)


def rejections(engine: Engine, limit: int = 20) -> pd.DataFrame:
    columns = ["id", "ts", "pair", "side", "source", "reason"]
    statement = select(*[getattr(Rejection, c) for c in columns]).order_by(Rejection.id.desc())
    return read_frame(engine, statement.limit(limit), columns)
