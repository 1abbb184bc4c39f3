"""One study, many processes: trials from several search processes (as from several
machines, each with its own VOLT_HOME) add up in one PostgreSQL study, and this machine's
cores share a study through its journal file."""

import os
import signal

import optuna
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from tests.support.runs import run_engine, start_engine, wait_for
from tests.support.search import journal_study, stored_search

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
        start_engine(
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
            VOLT_HOME=str(tmp_path / f"machine{seed}"),
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
    numbers = [t.number for t in stored_search(tmp_path)[1]]
    assert len(numbers) == 6 and sorted(numbers) == list(range(6))


def test_ctrl_c_in_a_terminal_stops_every_process_after_its_running_trial(tmp_path):
    search = start_engine(
        "optimize",
        *MARKET,
        "--study",
        "ctrl-c",
        "--trials",
        "2000",
        "--jobs",
        "2",
        new_session=True,
        VOLT_HOME=str(tmp_path),
    )
    try:
        wait_for(
            lambda: len(stored_search(tmp_path)[1]) >= 4,
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
    states = {t.state for t in journal_study(tmp_path, "ctrl-c").trials}
    assert states <= {TrialState.COMPLETE, TrialState.PRUNED}  # none failed, none left running
    assert "failed" not in err
