"""The Risk panel: equity against its drawdown peak, protections in force, refused orders."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, or_, select

from data.queries.frames import read_frame
from data.store.commands import kill_in_force_id
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
        state = conn.execute(select(EngineState).where(EngineState.id == 1)).first()
        kill = kill_in_force_id(conn)
    statement = (
        select(*[getattr(ProtectionLock, c) for c in columns])
        .where(
            ProtectionLock.lifted_ts.is_(None),
            or_(ProtectionLock.until.is_(None), ProtectionLock.until > now),
        )
        .order_by(ProtectionLock.id)
    )
    locks = read_frame(engine, statement, columns)
    halted = bool(state and state.halted)
    if (halted or kill is not None) and "kill_switch" not in set(locks["protection"]):
        # The engine refuses every entry while halted or a kill is in force (RiskContext):
        # the panel says so beside the HALTED banner, not "clear".
        why = f"engine halted: {state.halt_reason}" if halted else f"kill switch #{kill} pressed"
        blocked = {
            "protection": "kill_switch",
            "pair": None,
            "reason": why,
            "clears": "when a person re-arms it (Kill switch page)",
            "ts": None,
            "until": None,
        }
        locks = pd.concat([pd.DataFrame([blocked], columns=columns), locks], ignore_index=True)
    return locks


def rejections(engine: Engine, limit: int = 20) -> pd.DataFrame:
    columns = ["id", "ts", "pair", "side", "source", "reason"]
    statement = select(*[getattr(Rejection, c) for c in columns]).order_by(Rejection.id.desc())
    return read_frame(engine, statement.limit(limit), columns)
