"""A one-process search and Ctrl-C: the first stops it after the running trial (every
finished trial kept, none left half-written), whatever the store or stderr do; a second
interrupts; the terminal's own Ctrl-C comes back afterwards."""

import os
import signal
import threading
from types import SimpleNamespace

import optuna
import pytest

from data.store.db import make_engine
from engine.search import running
from engine.search.records import start_search_run, trials_recorded

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def engine(volt_home):
    engine = make_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def run_id(engine) -> int:
    return start_search_run(engine, study="ctrl-c", objective="sharpe")


@pytest.fixture
def search(monkeypatch):
    """A search of `trials` trials whose objective calls `during(trial number)` first."""

    def make(trials: int, during=lambda number: None):
        def objective(trial):
            during(trial.number)
            return trial.suggest_float("x", 0.0, 1.0)

        monkeypatch.setattr(running, "make_objective", lambda bench, space: objective)
        study = optuna.create_study(direction="maximize")
        return SimpleNamespace(
            jobs=1, trials=trials, study=study, bench=None, space=None, enqueue_defaults=str
        )

    return make


def test_ctrl_c_during_a_trial_stops_the_search_after_it(search, engine, run_id):
    ctrl_c = threading.Event()
    interrupted = search(50, during=lambda number: number == 2 and ctrl_c.set())

    running.optimize_here(interrupted, engine, run_id, 50, None, None, ctrl_c)

    states = [trial.state.name for trial in interrupted.study.trials]
    assert states == ["COMPLETE"] * 3  # the running trial finished, then no more
    assert trials_recorded(engine, run_id) == 3


def test_an_interrupted_search_stops_even_when_the_store_cannot_say_so(
    search, engine, run_id, monkeypatch
):
    def store_fails(*_):
        raise RuntimeError("database is locked")

    for asked in ("mark_stopping", "stop_requested", "run_status"):
        monkeypatch.setattr(running, asked, store_fails)
    ctrl_c = threading.Event()
    ctrl_c.set()
    interrupted = search(50)

    running.optimize_here(interrupted, engine, run_id, 50, None, None, ctrl_c)

    assert len(interrupted.study.trials) == 1


def test_the_first_ctrl_c_only_asks_to_stop_even_with_stderr_closed(monkeypatch):
    def closed(*_):
        raise OSError(9, "Bad file descriptor")

    monkeypatch.setattr(running.os, "write", closed)
    ctrl_c = threading.Event()
    before = signal.getsignal(signal.SIGINT)
    try:
        running._stop_after_the_trial(ctrl_c)(signal.SIGINT, None)
        assert ctrl_c.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the second: at once
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
def test_a_real_ctrl_c_stops_the_run_as_stopped_and_gives_ctrl_c_back(search, run_id):
    """SIGINT sent to this process during the second trial."""
    before = signal.getsignal(signal.SIGINT)
    interrupted = search(50, during=lambda n: n == 1 and os.kill(os.getpid(), signal.SIGINT))

    try:
        assert running.run_trials(interrupted, run_id, None, None) is True
        assert signal.getsignal(signal.SIGINT) is before
    finally:
        signal.signal(signal.SIGINT, before)
    assert len(interrupted.study.trials) == 2


def test_a_ctrl_c_handler_set_outside_python_comes_back_as_pythons_own(search, run_id, monkeypatch):
    """signal.signal answers None for a handler C code installed."""
    installed = []

    def install(signum, handler):
        installed.append(handler)
        return None

    monkeypatch.setattr(running.threading, "current_thread", threading.main_thread)
    monkeypatch.setattr(running.signal, "signal", install)

    assert running.run_trials(search(2), run_id, None, None) is False

    assert installed[-1] is signal.default_int_handler
