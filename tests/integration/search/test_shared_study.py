"""One study, many processes: trials from several search processes (as from several
machines, each with its own VOLT_HOME) add up in one PostgreSQL study, and this machine's
cores share a study through its journal file."""

import subprocess
import sys

import optuna
from optuna.trial import TrialState
from sqlalchemy import func, select

from data.store.db import make_engine, make_session_factory
from data.store.research import OptimizeTrial
from tests.support.runs import ROOT, run_engine, volt_env

MARKET = ("--synthetic", "3", "--pairs", "BTC/USDT", "--from", "2026-02-01", "--to",
          "2026-02-08", "--min-trades", "0")  # fmt: skip


def test_two_processes_on_one_postgresql_study_add_up(postgres_url, tmp_path):
    searches = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine",
                "optimize",
                *MARKET,
                "--study",
                "shared",
                "--storage",
                postgres_url,
                "--trials",
                "8",
                "--jobs",
                "1",
                "--seed",
                str(seed),
            ],
            cwd=ROOT,
            env=volt_env(VOLT_HOME=str(tmp_path / f"machine{seed}")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for seed in (1, 2)
    ]
    for search in searches:
        out, err = search.communicate(timeout=300)
        assert search.returncode == 0, err
        assert "postgres:***@" in out or "***" in out  # the password never printed
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == 16 and sorted(numbers) == list(range(16))  # no duplicate number
    finished = study.get_trials(states=(TrialState.COMPLETE,))
    assert study.best_trial.value == max(t.value for t in finished)  # one best for all
    assert sum(1 for t in study.trials if t.state.is_finished()) == 16


def test_this_machines_cores_share_one_study(tmp_path):
    done = run_engine("optimize", *MARKET, "--study", "cores", "--trials", "6", "--jobs", "2",
                      "--seed", "4", VOLT_HOME=str(tmp_path), timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "on 2 processes" in done.stdout
    engine = make_engine(f"sqlite:///{tmp_path}/volt.db")
    with make_session_factory(engine)() as session:
        numbers = session.scalars(select(OptimizeTrial.number)).all()
        assert session.scalar(select(func.count()).select_from(OptimizeTrial)) == 6
    engine.dispose()
    assert sorted(numbers) == list(range(6))
