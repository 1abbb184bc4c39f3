"""The Optuna study: where it is stored, how a trial is suggested and scored, and how trials
run on this machine's cores or on several machines sharing one study.

A study lives in a journal file under VOLT_HOME by default (safe for several local
processes), or in any RDB Optuna supports: `postgresql://…` spreads it over machines. Every
finished trial is kept in the storage the moment it finishes, so Ctrl-C loses only the trial
that was running, and a later invocation with the same study resumes it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, Trial, TrialState
from pydantic import ValidationError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, ProgrammingError

from config import Settings
from config.search_space import Dimension, apply_params, read_setting, rounded
from engine.search.objective import objective_value
from engine.search.trials import WORST, TrialMarket, figures

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)  # VOLT prints its own progress
STORAGE_ATTEMPTS = 5


class StudyError(ValueError):
    """The study cannot be used as asked; the message says why in one line."""


def open_storage(url: str | None, home: Path):
    """Optuna's storage for `--storage` (None: the journal file under VOLT_HOME), and how to
    show it (never with a password)."""
    if not url:
        path = home / "studies" / "optuna.journal"
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StudyError("--storage: not a database URL (e.g. postgresql://user@host/db)") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver VOLT installs
    elif not parsed.drivername.startswith(("postgresql", "sqlite")):
        raise StudyError(
            f"--storage: {parsed.drivername} is not supported; use postgresql:// or sqlite:///"
        )
    shown = shown_url(parsed)
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            storage = RDBStorage(
                parsed.render_as_string(hide_password=False),
                engine_kwargs={"pool_pre_ping": True},
            )
            return storage, shown
        # Another process creating Optuna's tables at the same moment: PostgreSQL says
        # "relation already exists" (ProgrammingError) or a pg_type unique violation.
        except (IntegrityError, ProgrammingError):
            time.sleep(0.5 * (attempt + 1))
        except Exception as exc:  # the driver's message can carry the URL: name only the kind
            log.warning("study storage %s unreachable: %s", shown, type(exc).__name__)
            raise StudyError(f"--storage {shown}: cannot open it ({type(exc).__name__})") from None
    raise StudyError(f"--storage {shown}: its tables could not be created; try again")


def shown_url(url: URL) -> str:
    """The URL as VOLT prints and stores it: no password, before the host or in the query."""
    query = {k: ("***" if "password" in k.lower() else v) for k, v in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True)


def load_study(name: str, storage, seed: int | None, prune: bool, identity: dict):
    """Create the study, or resume it when it was started on the same data, split and
    objective (anything else would mix figures of different questions)."""
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
        if prune
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )
    stored = study.user_attrs.get("identity")
    if stored is None:
        for key, value in identity.items():
            study.set_user_attr(key, value)
        study.set_user_attr("identity", identity)
    elif stored != identity:
        differs = [k for k in identity if stored.get(k) != identity[k]]
        raise StudyError(
            f"study {name!r} was started with another {', '.join(differs)}; resume it with the "
            "same data and settings, or name a new study with --study"
        )
    return study


def suggest(trial: Trial, space: tuple[Dimension, ...]) -> dict[str, float]:
    params = {}
    for d in space:
        if d.integer:
            params[d.path] = trial.suggest_int(
                d.path, int(d.low), int(d.high), step=int(d.step or 1)
            )
        else:
            params[d.path] = rounded(trial.suggest_float(d.path, d.low, d.high, step=d.step))
    return params


def defaults_of(settings: Settings, space: tuple[Dimension, ...]) -> dict[str, float]:
    """The configured value of each dimension: the first trial of every new study."""
    return {d.path: read_setting(settings, d.path) for d in space}


def make_objective(bench: TrialMarket, space: tuple[Dimension, ...]) -> Callable:
    def objective(trial: Trial) -> float:
        params = suggest(trial, space)
        try:
            settings = apply_params(bench.settings, params)
        except ValidationError as exc:
            trial.set_user_attr("refused", str(exc.errors()[0]["msg"]))
            raise optuna.TrialPruned() from None
        if not any(w > 0 for w in settings.agents.weights.values()):
            trial.set_user_attr("refused", "every agent's weight is 0: nothing would trade")
            raise optuna.TrialPruned()

        def report(fold: int, value: float) -> None:
            trial.report(value, fold)
            if trial.should_prune():
                raise optuna.TrialPruned()

        result = bench.in_sample(settings, report)
        held = bench.held_out(settings)
        held_value = objective_value(bench.objective, held.stats)
        trial.set_user_attr("folds", result.folds)
        trial.set_user_attr("shape", result.shape.to_dict())
        trial.set_user_attr("in_sample_trades", result.trades)
        trial.set_user_attr("held_out", figures(held.stats) | {"objective": held_value})
        return result.value

    return objective


def trial_row(trial: FrozenTrial) -> dict:
    """A finished trial as the dashboard's `optimize_trials` row stores it."""
    held = trial.user_attrs.get("held_out") or {}
    value = trial.value if trial.state == TrialState.COMPLETE else None
    starved = value is not None and value <= WORST  # scored worst: too few in-sample trades
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "params": trial.params,
        "in_sample": None if value is None or starved or not math.isfinite(value) else value,
        "held_out": held.get("objective"),
        "figures": {
            "folds": trial.user_attrs.get("folds", []),
            "held_out": held,
            "refused": trial.user_attrs.get("refused"),
            "too_few_trades": starved,
        },
    }
