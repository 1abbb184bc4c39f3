"""Stored runs: the row a run reports progress on, its statistics, curve and trades."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sqlalchemy import Engine, update

from data.store.db import make_session_factory, transaction, utcnow
from data.store.models import BacktestRun, BacktestTrade, Command
from engine.backtest.out_of_sample import OutOfSample
from engine.backtest.report import Report, json_safe
from engine.backtest.runner import BacktestResult
from engine.backtest.walk_forward import Fold

CURVE_POINTS = 2000  # enough for a chart; a year of 5-minute candles would be 105,120


def start_run(
    engine: Engine,
    *,
    label: str,
    source: str,
    pairs: list[str],
    timeframe: str,
    span: tuple,
    settings: dict,
    command_id: int | None = None,
) -> int:
    with transaction(make_session_factory(engine)) as session:
        run = BacktestRun(
            created_at=utcnow(),
            label=label,
            source=source,
            pairs=pairs,
            timeframe=timeframe,
            span_start=span[0],
            span_end=span[1],
            settings=settings,
            command_id=command_id,
        )
        session.add(run)
        session.flush()
        return run.id


def report_progress(engine: Engine, run_id: int, fraction: float) -> None:
    with transaction(make_session_factory(engine)) as session:
        session.execute(
            update(BacktestRun).where(BacktestRun.id == run_id).values(progress=fraction)
        )


def fail_run(engine: Engine, run_id: int, message: str) -> None:
    with transaction(make_session_factory(engine)) as session:
        session.execute(
            update(BacktestRun)
            .where(BacktestRun.id == run_id)
            .values(status="failed", message=message[:4000])
        )


def finish_run(engine: Engine, run_id: int, result: BacktestResult, report: Report) -> None:
    """A backtest's figures as shown, its report, a thinned curve and every trade."""
    curve = thin_curve(result.equity, result.buy_and_hold, result.prices())
    _finish(engine, run_id, report.stats, report.to_dict(), curve, result.trades, result.notes)


def finish_walk_forward(
    engine: Engine, run_id: int, folds: list[Fold], combined: OutOfSample
) -> None:
    """A walk-forward's joined test windows: their figures next to the configured weights'
    and buy-and-hold's, every fold's, the chained curves and the out-of-sample trades."""
    report = {
        "walk_forward": {
            "configured": combined.configured,
            "folds": [
                {
                    "train": list(f.train),
                    "test": list(f.test),
                    "weights": f.weights,
                    "train_stats": f.train_stats,
                    "test_stats": f.test_stats,
                    "configured_test_stats": f.configured_test_stats,
                }
                for f in folds
            ],
        },
        "baselines": [b.to_dict() for b in combined.baselines],
    }
    stats = dict(combined.stats)
    stats["chance_p_value"] = combined.baselines[0].p_value if combined.baselines else math.nan
    stats["configured_return_pct"] = combined.configured["return_pct"]
    curve = thin_curve(combined.equity, combined.buy_and_hold, combined.prices)
    curve["configured"] = thin_curve(combined.configured_equity, combined.buy_and_hold, {})[
        "equity"
    ]
    notes = folds[0].test_result.notes if folds and folds[0].test_result else []
    _finish(engine, run_id, stats, json_safe(report), curve, combined.trades, notes)


def _finish(engine, run_id, stats, report, curve, trades, notes) -> None:
    """Statistics, report, curve and trades in one transaction."""
    with transaction(make_session_factory(engine)) as session:
        run = session.get(BacktestRun, run_id)
        run.status, run.progress, run.stats = "done", 1.0, json_safe(stats)
        run.report, run.curve = report, curve
        run.llm = "; ".join(notes)
        session.add_all(
            BacktestTrade(run_id=run_id, **row)
            for row in trades.drop(columns=["entry_row", "exit_row"])
            .assign(
                entry_ts=lambda f: [ts.to_pydatetime() for ts in f["entry_ts"]],
                exit_ts=lambda f: [ts.to_pydatetime() for ts in f["exit_ts"]],
            )
            .to_dict("records")
        )


def thin_curve(equity: pd.Series, buy_and_hold: pd.Series, prices: dict) -> dict:
    """Every n-th point, the last always kept; prices per pair at the same times."""
    rows = np.unique(np.linspace(0, len(equity) - 1, min(len(equity), CURVE_POINTS)).astype(int))
    return {
        "ts": [ts.isoformat() for ts in equity.index[rows]],
        "equity": [round(float(v), 4) for v in equity.to_numpy()[rows]],
        "buy_and_hold": [round(float(v), 4) for v in buy_and_hold.to_numpy()[rows]],
        "prices": {pair: [float(v) for v in closes[rows]] for pair, closes in prices.items()},
    }


def claim_backtest(engine: Engine, command_id: int) -> dict | None:
    """Take this backtest command if it is still pending; its payload, or None."""
    with transaction(make_session_factory(engine)) as session:
        taken = session.execute(
            update(Command)
            .where(
                Command.id == command_id, Command.kind == "backtest", Command.status == "pending"
            )
            .values(status="claimed", claimed_by="backtest")
        )
        if taken.rowcount != 1:
            return None
        return dict(session.get(Command, command_id).payload or {})
