"""One study, many processes: trials from several search processes (as from several
machines, each with its own VOLT_HOME) add up in one PostgreSQL study, and this machine's
cores share a study through its journal file."""

import os
import signal
import subprocess
import sys

import optuna
from optuna.trial import TrialState
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from data.store.db import make_engine, make_session_factory
from data.store.research import OptimizeTrial
from tests.support.runs import ROOT, run_engine, volt_env, wait_for

MARKET = (
    "--synthetic",
    "3",
    "--pairs",
    "BTC/USDT",
    "--from",
    "2026-02-01",
    "--to",
    "2026-02-08",
    "--min-trades",
    "0",
)


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
        )
        for seed in (1, 2)
    ]
    password = make_url(postgres_url).password
    for search in searches:
        out, err = search.communicate(timeout=300)
        assert search.returncode == 0, err
        assert not password or password not in out + err  # the password never printed
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == 16 and sorted(numbers) == list(range(16))  # no duplicate number
    finished = study.get_trials(states=(TrialState.COMPLETE,))
    assert study.best_trial.value == max(t.value for t in finished)  # one best for all
    assert sum(1 for t in study.trials if t.state.is_finished()) == 16


def test_this_machines_cores_share_one_study(tmp_path):
    done = run_engine(
        "optimize",
        *MARKET,
        "--study",
        "cores",
        "--trials",
        "6",
        "--jobs",
        "2",
        "--seed",
        "4",
        VOLT_HOME=str(tmp_path),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "on 2 processes" in done.stdout
    engine = make_engine(f"sqlite:///{tmp_path}/volt.db")
    with make_session_factory(engine)() as session:
        numbers = session.scalars(select(OptimizeTrial.number)).all()
        assert session.scalar(select(func.count()).select_from(OptimizeTrial)) == 6
    engine.dispose()
    assert sorted(numbers) == list(range(6))


def test_ctrl_c_in_a_terminal_stops_every_process_after_its_running_trial(tmp_path):
    search = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine",
            "optimize",
            *MARKET,
            "--study",
            "ctrl-c",
            "--trials",
            "2000",
            "--jobs",
            "2",
        ],
        cwd=ROOT,
        env=volt_env(VOLT_HOME=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (tmp_path / "volt.db").exists() and recorded(tmp_path) >= 4,
            180,
            "four finished trials",
        )
        os.killpg(search.pid, signal.SIGINT)  # as a terminal does: the whole process group
        out, err = search.communicate(timeout=180)
    finally:
        if search.poll() is None:
            os.killpg(search.pid, signal.SIGKILL)
    assert search.returncode == 0, err
    assert "every finished trial kept" in out
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "studies" / "optuna.journal"))
    )
    states = {t.state for t in optuna.load_study(study_name="ctrl-c", storage=storage).trials}
    assert states <= {TrialState.COMPLETE, TrialState.PRUNED}  # none failed, none left running
    assert "failed" not in err


def recorded(home) -> int:
    engine = make_engine(f"sqlite:///{home}/volt.db")
    with make_session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(OptimizeTrial))
    engine.dispose()
    return count
