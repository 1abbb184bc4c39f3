"""`python -m engine optimize`: a search on in-sample folds, judged on a held-out window it
never saw, stored so that it can be resumed, stopped or repeated."""

import signal

import pytest
from sqlalchemy import select

from config import load_config
from config.fingerprint import strategy_fingerprint
from data.store.commands import submit_command
from data.store.db import make_engine, make_session_factory
from data.store.evidence import latest_evidence
from data.store.models import Command
from tests.support.random_walk import random_walk_csv
from tests.support.runs import run_engine, start_engine, wait_for
from tests.support.search import journal_study, stored_search

SYNTHETIC = (
    "--synthetic",
    "3",
    "--pairs",
    "BTC/USDT",
    "ETH/USDT",
    "--from",
    "2026-02-01",
    "--to",
    "2026-02-08",
)


def optimize(home, *args, timeout=300):
    return run_engine(
        "optimize", *SYNTHETIC, "--jobs", "1", *args, timeout=timeout, VOLT_HOME=str(home)
    )


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    done = optimize(home, "--trials", "12", "--seed", "5", "--study", "s", "--min-trades", "0")
    return home, done


def test_a_search_prints_the_held_out_comparison(searched):
    _, done = searched
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "held out" in out and "(never searched)" in out
    for line in ("(chosen)", "defaults", "buy & hold", "deflated Sharpe ratio", "verdict: "):
        assert line in out, out


def test_the_study_and_every_trial_are_stored(searched):
    home, _ = searched
    runs, trials = stored_search(home)
    assert [r.status for r in runs] == ["done"] and runs[0].study == "s"
    assert len(trials) == 12 and sorted(t.number for t in trials) == list(range(12))
    complete = [t for t in trials if t.state == "complete"]
    assert complete and all(t.held_out is not None for t in complete)
    assert all("held_out" in t.figures and t.params for t in complete)
    assert runs[0].summary["defaults"]["name"] == "defaults"
    assert set(runs[0].spans) == {"in_sample", "held_out"}
    assert len(journal_study(home, "s").trials) == 12


def test_a_search_on_the_simulated_market_files_no_go_live_evidence(searched):
    home, done = searched
    run = stored_search(home)[0][0]
    assert "no go-live evidence filed: the search ran on the simulated market" in done.stdout
    engine = make_engine(f"sqlite:///{home}/volt.db")
    assert latest_evidence(engine, run.config_fingerprint) is None
    engine.dispose()


def test_a_search_on_real_candles_of_the_configs_pairs_files_its_evidence(tmp_path):
    config = tmp_path / "btc.toml"
    config.write_text('[market]\npairs = ["BTC/USDT"]\nhistory_candles = 240\n')
    walk = random_walk_csv(tmp_path / "walk.csv", 3_000, seed=4)
    done = run_engine(
        "optimize",
        "--config",
        str(config),
        "--data",
        str(walk),
        "--pairs",
        "BTC/USDT",
        "--jobs",
        "1",
        "--trials",
        "4",
        "--min-trades",
        "0",
        VOLT_HOME=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    run = stored_search(tmp_path)[0][0]
    engine = make_engine(f"sqlite:///{tmp_path}/volt.db")
    evidence = latest_evidence(engine, run.config_fingerprint)
    engine.dispose()
    settings = load_config(config)
    assert run.config_fingerprint == strategy_fingerprint(settings)
    assert evidence is not None and evidence["run_id"] == run.id
    assert evidence["return_pct"] == pytest.approx(run.summary["defaults"]["return_pct"])
    assert evidence["held_out_start"] < evidence["held_out_end"]


def test_the_first_trial_of_a_new_study_is_the_configured_settings(searched):
    home, _ = searched
    first = journal_study(home, "s").trials[0]
    assert first.params["risk.stop_atr_multiple"] == 2.0
    assert first.params["indicators.rsi_period"] == 14


def test_a_second_invocation_resumes_the_study(searched):
    home, _ = searched
    again = optimize(home, "--trials", "4", "--seed", "5", "--study", "s", "--min-trades", "0")
    assert again.returncode == 0, again.stderr
    assert "resuming 12 stored trials" in again.stdout
    assert len(journal_study(home, "s").trials) == 16
    assert [t.number for t in stored_search(home)[1][12:]] == [12, 13, 14, 15]


def test_a_study_resumed_on_other_data_is_refused_in_one_line(searched):
    home, _ = searched
    other = run_engine(
        "optimize",
        "--synthetic",
        "4",
        "--pairs",
        "BTC/USDT",
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-08",
        "--study",
        "s",
        "--trials",
        "1",
        VOLT_HOME=str(home),
    )
    assert other.returncode == 2
    assert "study 's' was started with another" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1


def test_the_same_seed_tries_the_same_settings(tmp_path):
    for name in ("a", "b"):
        done = optimize(tmp_path / name, "--trials", "6", "--seed", "11", "--min-trades", "0")
        assert done.returncode == 0, done.stderr
    first, second = (stored_search(tmp_path / name)[1] for name in ("a", "b"))
    assert [t.params for t in first] == [t.params for t in second]
    assert [t.in_sample for t in first] == [t.in_sample for t in second]


def test_a_search_where_no_trial_trades_enough_keeps_the_defaults(tmp_path):
    done = optimize(tmp_path, "--trials", "3", "--min-trades", "100000")
    assert done.returncode == 0, done.stderr
    assert "no trial made the 100000 in-sample trades asked" in done.stdout
    run = stored_search(tmp_path)[0][0]
    assert run.best_params == {} and "keep the defaults" in run.summary["advice"]


def test_bad_input_is_refused_in_one_line(tmp_path):
    taken = tmp_path / "taken.toml"
    taken.write_text("# a config already there\n")
    for args, cause in (
        (("--holdout", "1.5"), "--holdout"),
        (("--storage", "mysql://x@y/z"), "--storage"),
        (("--write-config", str(taken)), "already exists"),  # before any trial runs
        (("--write-config", str(taken / "new.toml")), "is not a folder"),
    ):
        done = optimize(tmp_path, "--trials", "1", *args)
        assert done.returncode == 2 and cause in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not stored_search(tmp_path)[0]  # no run was started


def test_a_search_over_a_random_walk_is_flagged_overfit(tmp_path):
    walk = random_walk_csv(tmp_path / "walk.csv", 6_000, seed=8)
    done = run_engine(
        "optimize",
        "--data",
        str(walk),
        "--pairs",
        "BTC/USDT",
        "--jobs",
        "1",
        "--trials",
        "40",
        "--seed",
        "2",
        "--min-trades",
        "0",
        VOLT_HOME=str(tmp_path),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "OVERFIT" in done.stdout
    run = stored_search(tmp_path)[0][0]
    assert run.summary["overfitting"]["overfit"] is True
    assert run.summary["overfitting"]["value"] < 0.95
    assert "keep the defaults" in run.summary["advice"]


def test_ctrl_c_keeps_every_finished_trial(tmp_path):
    search = start_engine(
        "optimize",
        *SYNTHETIC,
        "--jobs",
        "1",
        "--trials",
        "2000",
        "--study",
        "long",
        "--min-trades",
        "0",
        VOLT_HOME=str(tmp_path),
    )
    try:
        wait_for(lambda: len(stored_search(tmp_path)[1]) >= 3, 90, "three finished trials")
        search.send_signal(signal.SIGINT)
        out, err = search.communicate(timeout=60)
    finally:
        search.kill()
    assert search.returncode == 0, err
    assert "stopping after the running trial" in err  # never interrupted inside Optuna
    runs, trials = stored_search(tmp_path)
    assert runs[0].status == "stopped"
    assert "every finished trial kept" in out
    journal = journal_study(tmp_path, "long").trials
    assert not [t.number for t in journal if t.state.name in ("RUNNING", "FAIL")]
    finished = [t for t in journal if t.state.is_finished()]
    assert len(trials) >= 3 and {t.number for t in trials} <= {t.number for t in finished}


def test_the_dashboard_starts_a_search_by_command_and_stops_it(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/volt.db")
    factory = make_session_factory(engine)
    command_id = submit_command(
        factory,
        "optimize",
        {
            "synthetic": 3,
            "pairs": ["BTC/USDT"],
            "start": "2026-02-01",
            "end": "2026-02-08",
            "trials": 2000,
            "jobs": 1,
            "study": "page",
            "min_trades": 0,
        },
    )
    search = start_engine("optimize", "--command", str(command_id), VOLT_HOME=str(tmp_path))
    try:
        wait_for(lambda: len(stored_search(tmp_path)[1]) >= 2, 90, "two finished trials")
        run = stored_search(tmp_path)[0][0]
        submit_command(factory, "stop_optimize", {"run_id": run.id})
        out, err = search.communicate(timeout=60)
    finally:
        search.kill()
    assert search.returncode == 0, err
    with factory() as session:
        commands = {c.kind: c for c in session.scalars(select(Command)).all()}
    assert commands["optimize"].status == "done" and "run #" in commands["optimize"].result
    assert commands["stop_optimize"].status == "done"
    run = stored_search(tmp_path)[0][0]
    assert run.status == "stopped" and run.command_id == command_id
    engine.dispose()
