"""Strategy searches (`python -m engine optimize`) for the Optimize view: the runs with their
progress and verdict, and one run's finished trials with both sides' figures."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from data.store.db import as_utc
from data.store.research import OptimizeRun, OptimizeTrial

RUN_COLUMNS = ["id", "status", "trials_asked", "trials_done", "command_id"]
TRIAL_COLUMNS = [
    "number",
    "state",
    "in_sample",
    "held_out",
    "held_out_return_pct",
    "held_out_trades",
    "params",
    "finished_at",
]


def optimize_runs(engine: Engine, limit: int = 20) -> pd.DataFrame:
    """Stored searches, newest first, each with the number of trials it has recorded so far."""
    done = (
        select(OptimizeTrial.run_id, func.count().label("trials_done"))
        .group_by(OptimizeTrial.run_id)
        .subquery()
    )
    statement = (
        select(OptimizeRun, func.coalesce(done.c.trials_done, 0))
        .outerjoin(done, done.c.run_id == OptimizeRun.id)
        .order_by(OptimizeRun.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        rows = [
            {
                "id": run.id,
                "created_at": as_utc(run.created_at),
                "finished_at": as_utc(run.finished_at),
                "study": run.study,
                "storage": run.storage,
                "status": run.status,
                "message": run.message,
                "objective": run.objective,
                "seed": run.seed,
                "trials_asked": run.trials_asked,
                "trials_done": int(trials_done),
                "source": run.source,
                "pairs": ", ".join(run.pairs or []),
                "timeframe": run.timeframe,
                "spans": dict(run.spans or {}),
                "config_fingerprint": run.config_fingerprint,
                "best_params": dict(run.best_params or {}),
                "importances": dict(run.importances or {}),
                "summary": dict(run.summary or {}),
                "command_id": run.command_id,
            }
            for run, trials_done in session.execute(statement).all()
        ]
    return pd.DataFrame(rows, columns=None if rows else RUN_COLUMNS)


def optimize_trials(engine: Engine, run_id: int) -> pd.DataFrame:
    """A run's finished trials in trial order: the objective in sample and held out, the
    held-out return and trades, and the parameters tried ({dotted setting: value})."""
    statement = (
        select(OptimizeTrial)
        .where(OptimizeTrial.run_id == run_id)
        .order_by(OptimizeTrial.number, OptimizeTrial.id)
    )
    with Session(engine) as session:
        rows = []
        for trial in session.scalars(statement):
            held = (trial.figures or {}).get("held_out") or {}
            rows.append(
                {
                    "number": trial.number,
                    "state": trial.state,
                    "in_sample": trial.in_sample,
                    "held_out": trial.held_out,
                    "held_out_return_pct": held.get("return_pct"),
                    "held_out_trades": held.get("trades"),
                    "params": dict(trial.params or {}),
                    "finished_at": as_utc(trial.finished_at),
                }
            )
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)
