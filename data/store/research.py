"""Tables of the strategy search (`python -m engine optimize`) and the evidence it leaves for
the go-live gate. The Optuna study itself lives in Optuna's own storage; these rows are what
the dashboard reads: a run's progress, its finished trials, and the held-out result of each
config it judged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from data.store.models import Base


class OptimizeRun(Base):
    """One invocation of a search on a study: what it searches, how far it got, and its verdict."""

    __tablename__ = "optimize_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    study: Mapped[str] = mapped_column(String(200))
    storage: Mapped[str] = mapped_column(Text, default="")  # shown: never a password
    # running, done, failed, stopped (Ctrl-C: its finished trials kept)
    status: Mapped[str] = mapped_column(String(12), default="running")
    message: Mapped[str] = mapped_column(Text, default="")
    objective: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int | None] = mapped_column(Integer)
    trials_asked: Mapped[int] = mapped_column(Integer, default=0)  # by this invocation
    source: Mapped[str] = mapped_column(Text, default="")
    pairs: Mapped[list] = mapped_column(JSON, default=list)
    timeframe: Mapped[str] = mapped_column(String(8), default="")
    # {"in_sample": [[start, stop] ISO, ...], "held_out": [start, stop]}
    spans: Mapped[dict] = mapped_column(JSON, default=dict)
    config_fingerprint: Mapped[str] = mapped_column(String(32), default="")
    best_params: Mapped[dict | None] = mapped_column(JSON)
    importances: Mapped[dict | None] = mapped_column(JSON)
    summary: Mapped[dict | None] = mapped_column(JSON)  # the held-out comparison and verdict
    command_id: Mapped[int | None] = mapped_column(ForeignKey("commands.id"))


class OptimizeTrial(Base):
    """A finished trial as the study holds it: its parameters and both sides' figures."""

    __tablename__ = "optimize_trials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("optimize_runs.id"))
    number: Mapped[int] = mapped_column(Integer)  # Optuna's trial number in the study
    state: Mapped[str] = mapped_column(String(12))  # complete, pruned, failed
    finished_at: Mapped[datetime]
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    in_sample: Mapped[float | None] = mapped_column(Float)  # the objective on the folds
    held_out: Mapped[float | None] = mapped_column(Float)  # the same objective, held out
    figures: Mapped[dict] = mapped_column(JSON, default=dict)  # both sides' statistics

    __table_args__ = (Index("ix_optimize_trials_run_number", "run_id", "number"),)


class Evidence(Base):
    """The held-out result of one config (by its strategy fingerprint): what the go-live gate
    shows before testnet or live."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    fingerprint: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(Text, default="")  # "optimize run #3 (study eth): best"
    span_start: Mapped[datetime]  # the whole data span the search read
    span_end: Mapped[datetime]
    held_out_start: Mapped[datetime]
    held_out_end: Mapped[datetime]
    return_pct: Mapped[float] = mapped_column(Float)
    sharpe: Mapped[float | None] = mapped_column(Float)
    buy_and_hold_pct: Mapped[float] = mapped_column(Float)
    buy_and_hold_sharpe: Mapped[float | None] = mapped_column(Float)
    trades: Mapped[int] = mapped_column(Integer, default=0)
    p_value: Mapped[float | None] = mapped_column(Float)  # chance baseline; None: no trades
    overfit_name: Mapped[str] = mapped_column(String(40), default="deflated Sharpe ratio")
    overfit_value: Mapped[float | None] = mapped_column(Float)
    overfit: Mapped[bool] = mapped_column(default=False)  # the measure says overfit
    trials: Mapped[int] = mapped_column(Integer, default=0)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("optimize_runs.id"))
