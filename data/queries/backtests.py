"""Stored backtests for the Backtest page: the runs, one run's curve, report and trades."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, defer

from data.queries.frames import read_frame
from data.store.db import as_utc
from data.store.models import ROUND_TRIP_COLUMNS, BacktestRun, BacktestTrade


def backtest_runs(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """Stored backtests, newest first, each with its statistics as columns."""
    # Not each run's curve and report (a few hundred kB of JSON each): one run's are read
    # when it is shown.
    statement = (
        select(BacktestRun)
        .options(defer(BacktestRun.curve), defer(BacktestRun.report), defer(BacktestRun.settings))
        .order_by(BacktestRun.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        runs = session.scalars(statement).all()
        rows = [
            {
                "id": run.id,
                "created_at": as_utc(run.created_at),
                "label": run.label,
                "source": run.source,
                "pairs": ", ".join(run.pairs or []),
                "span_start": as_utc(run.span_start),
                "span_end": as_utc(run.span_end),
                "status": run.status,
                "progress": run.progress,
                "message": run.message,
                "llm": run.llm,
                "command_id": run.command_id,
                **(run.stats or {}),
            }
            for run in runs
        ]
    return pd.DataFrame(rows, columns=None if rows else ["id", "status", "progress"])


def backtest_curve(engine: Engine, run_id: int) -> dict:
    with Session(engine) as session:
        run = session.get(BacktestRun, run_id)
        return dict(run.curve or {}) if run else {}


def backtest_report(engine: Engine, run_id: int) -> dict:
    """Per-pair figures, monthly returns, the chance baseline (a walk-forward: its folds);
    empty for a run stored before reports were."""
    with Session(engine) as session:
        run = session.get(BacktestRun, run_id)
        return dict(run.report or {}) if run else {}


def backtest_trades(engine: Engine, run_id: int) -> pd.DataFrame:
    columns = ROUND_TRIP_COLUMNS
    statement = (
        select(*[getattr(BacktestTrade, c) for c in columns])
        .where(BacktestTrade.run_id == run_id)
        .order_by(BacktestTrade.exit_ts)
    )
    return read_frame(engine, statement, columns)
