"""The engine's state, the exchange's health, machine metrics, events and commands."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from data.queries.frames import read_frame
from data.store.db import as_utc, utcnow
from data.store.faults import DISK_FULL_SENTENCE, disk_full
from data.store.models import Command, EngineState, Event, ExchangeStatus, SystemMetric


def _default_state() -> dict:
    """What an engine that never ran looks like: the column defaults, before any insert."""
    return {
        column.name: column.default.arg if _scalar(column.default) else None
        for column in EngineState.__table__.columns
    }


def _scalar(default) -> bool:
    """A fixed default; not one made at insert (the order generation), unknown until then."""
    return default is not None and default.is_scalar


def engine_state(engine: Engine) -> dict:
    with Session(engine) as session:
        state = session.get(EngineState, 1)
        values = state.to_dict() if state else _default_state()
    for key in ("heartbeat_at", "market_time", "worker_started_at", "supervisor_started_at"):
        values[key] = as_utc(values.get(key))
    values["heartbeat_age_s"] = (
        (utcnow() - values["heartbeat_at"]).total_seconds() if values["heartbeat_at"] else None
    )
    if disk_full(engine) and not values.get("halted"):
        # The worker cannot write this row on a full disk: the disk itself is asked.
        values["status"] = "disk full"
        if DISK_FULL_SENTENCE not in (values.get("entry_blocks") or ""):
            values["entry_blocks"] = "; ".join(
                filter(None, [DISK_FULL_SENTENCE, values.get("entry_blocks")])
            )
    return values


def exchange_status(engine: Engine) -> dict | None:
    """What the worker last saw of the exchange; None when no exchange is in use."""
    with Session(engine) as session:
        status = session.get(ExchangeStatus, 1)
        values = status.to_dict() if status else None
    if values:
        for key in ("last_ok_at", "last_error_at", "updated_at"):
            values[key] = as_utc(values.get(key))
    return values


def latest_metrics(engine: Engine) -> dict | None:
    """The last sample; `ts` its market time (`wall_ts` the wall's), as in every page frame."""
    with Session(engine) as session:
        metric = session.scalar(select(SystemMetric).order_by(SystemMetric.id.desc()).limit(1))
        values = metric.to_dict() if metric else None
    if values:
        wall, market = as_utc(values["ts"]), as_utc(values.pop("market_ts"))
        values["ts"], values["wall_ts"] = market or wall, wall
    return values


def _market_and_wall(model, wall: str = "ts", market: str = "market_ts", prefix: str = ""):
    """A row's market time as `<prefix>ts` (the wall's where none was known) and its wall time
    as `<prefix>wall_ts`: pages show market time and keep the wall's beside it."""
    wall_column = getattr(model, wall)
    market_time = func.coalesce(getattr(model, market), wall_column)
    return market_time.label(f"{prefix}ts"), wall_column.label(f"{prefix}wall_ts")


def metrics_history(engine: Engine, hours: float = 6) -> pd.DataFrame:
    statement = (
        select(
            *_market_and_wall(SystemMetric),
            SystemMetric.cpu_percent,
            SystemMetric.cpu_temp_c,
            SystemMetric.memory_percent,
            SystemMetric.engine_rss_mb,
        )
        .where(SystemMetric.ts >= utcnow() - timedelta(hours=hours))
        .order_by(SystemMetric.ts)
    )
    return read_frame(engine, statement, ["ts", "wall_ts", "cpu_percent", "cpu_temp_c"])


def events(engine: Engine, limit: int = 100, min_level: str | None = None) -> pd.DataFrame:
    statement = select(Event).order_by(Event.id.desc()).limit(limit)
    if min_level == "WARNING":
        statement = statement.where(Event.level.in_(("WARNING", "ERROR", "CRITICAL")))
    columns = ["id", "level", "source", "kind", "message", "traceback"]
    statement = statement.with_only_columns(
        Event.id, *_market_and_wall(Event), *[getattr(Event, c) for c in columns[1:]]
    )
    return read_frame(engine, statement, ["id", "ts", "wall_ts", *columns[1:]])


def commands(engine: Engine, limit: int = 20, kinds: tuple[str, ...] = ()) -> pd.DataFrame:
    """Newest first; `ts`/`done_ts` in market time, `wall_ts`/`done_wall_ts` on the wall."""
    statement = select(
        Command.id,
        *_market_and_wall(Command),
        Command.kind,
        Command.payload,
        Command.status,
        Command.result,
        *_market_and_wall(Command, "done_ts", "done_market_ts", prefix="done_"),
    ).order_by(Command.id.desc())
    if kinds:
        statement = statement.where(Command.kind.in_(kinds))
    columns = ["id", "ts", "wall_ts", "kind", "payload", "status", "result", "done_ts"]
    return read_frame(engine, statement.limit(limit), [*columns, "done_wall_ts"])


def command_outcome(engine: Engine, command_id: int) -> dict | None:
    """One command's state as its runner last wrote it (pending, claimed, done or failed)."""
    statement = select(Command.id, Command.kind, Command.status, Command.result).where(
        Command.id == command_id
    )
    with engine.connect() as conn:
        row = conn.execute(statement).first()
    return dict(row._mapping) if row else None
