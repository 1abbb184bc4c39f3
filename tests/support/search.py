"""Reading what `python -m engine optimize` left under a VOLT_HOME: its rows and its study."""

from __future__ import annotations

from pathlib import Path

import optuna
from sqlalchemy import select

from data.store.db import make_engine, make_session_factory
from data.store.research import OptimizeRun, OptimizeTrial


def stored_search(home: Path) -> tuple[list[OptimizeRun], list[OptimizeTrial]]:
    """The optimize runs and their trials, oldest first (none before the database exists)."""
    if not (home / "volt.db").exists():
        return [], []
    engine = make_engine(f"sqlite:///{home}/volt.db")
    with make_session_factory(engine)() as session:
        runs = session.scalars(select(OptimizeRun).order_by(OptimizeRun.id)).all()
        trials = session.scalars(select(OptimizeTrial).order_by(OptimizeTrial.id)).all()
    engine.dispose()
    return runs, trials


def journal_study(home: Path, name: str) -> optuna.Study:
    """A study in the default storage: the journal file under VOLT_HOME."""
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(home / "studies" / "optuna.journal"))
    )
    return optuna.load_study(study_name=name, storage=storage)
