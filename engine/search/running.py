"""Running a study's trials: in this process, or in one process per core sharing the study
through its storage. Ctrl-C (or a `stop_optimize` command from the dashboard) stops starting
trials; every trial that finished is already stored."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

from sqlalchemy import Engine
from tqdm import tqdm

from config.loading import load_config
from data.store.commands import finish_command
from data.store.db import make_engine, make_session_factory
from engine.search.records import (
    mark_stopping,
    record_trial,
    run_status,
    stop_requested,
    trials_recorded,
)
from engine.search.study import make_objective, trial_row

log = logging.getLogger("volt.optimize")
JOIN_SECONDS = 120  # a worker finishing its running trial after Ctrl-C


def run_trials(
    search, run_id: int, config_path: str | None, timeout: float | None, log_setup=None
) -> bool:
    """Run the search's trials; True when stopped early (Ctrl-C or the dashboard).
    `log_setup(process, factory)`: how each further process sends its log and events."""
    engine = make_engine()
    search.enqueue_defaults()
    bar = tqdm(
        total=search.trials,
        desc="optimize",
        unit="trial",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
    )
    try:
        if search.jobs == 1:
            ctrl_c = threading.Event()
            main = threading.current_thread() is threading.main_thread()  # signals go there
            previous = signal.signal(signal.SIGINT, _stop_after_the_trial(ctrl_c)) if main else None
            try:
                optimize_here(search, engine, run_id, search.trials, timeout, bar, ctrl_c)
            except KeyboardInterrupt:  # a second Ctrl-C: at once
                return True
            finally:
                if main:  # None: a handler not set from Python; Python's own comes back
                    restored = signal.default_int_handler if previous is None else previous
                    signal.signal(signal.SIGINT, restored)
            return ctrl_c.is_set() or run_status(engine, run_id) == "stopping"
        return _optimize_in_processes(search, engine, run_id, config_path, timeout, bar, log_setup)
    finally:
        bar.close()


def _stop_after_the_trial(ctrl_c: threading.Event):
    """Ctrl-C in a one-process search: a KeyboardInterrupt inside Optuna's journal write
    (its lock file half released) would fail the trial, so the first one only asks to stop
    after the running trial; a second one interrupts."""

    def handler(_signum, _frame) -> None:
        ctrl_c.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(OSError):  # stderr closed: stopping matters more than saying so
            os.write(2, b"\nvolt: stopping after the running trial (Ctrl-C again: at once)\n")

    return handler


def optimize_here(
    search, engine: Engine, run_id: int, trials: int, timeout, bar, ctrl_c=None
) -> None:
    def after_trial(study, trial) -> None:
        record_trial(engine, run_id, **trial_row(trial))
        if bar is not None:
            bar.update(1)
        if ctrl_c is not None and ctrl_c.is_set():
            study.stop()  # run_trials answers "stopped": nothing more to ask the store
            return
        command_id = stop_requested(engine, run_id)
        if command_id is not None:
            mark_stopping(engine, run_id)
            finish_command(
                make_session_factory(engine), command_id, True, "stopping after the running trials"
            )
        if run_status(engine, run_id) == "stopping":
            study.stop()

    search.study.optimize(
        make_objective(search.bench, search.space),
        n_trials=trials,
        timeout=timeout,
        callbacks=[after_trial],
        gc_after_trial=False,
    )


def _optimize_in_processes(search, engine, run_id, config_path, timeout, bar, log_setup) -> bool:
    shares = [
        search.trials // search.jobs + (i < search.trials % search.jobs) for i in range(search.jobs)
    ]
    context = multiprocessing.get_context("spawn")  # no forked copy of this process's state
    workers = [
        context.Process(
            target=worker_main,
            args=(config_path, search.request, run_id, i, share, timeout, log_setup),
            name=f"volt-optimize-{i}",
        )
        for i, share in enumerate(shares)
        if share
    ]
    for worker in workers:
        worker.start()
    try:
        while any(w.is_alive() for w in workers):
            bar.update(trials_recorded(engine, run_id) - bar.n)
            time.sleep(0.5)
    except KeyboardInterrupt:
        # Workers ignore SIGINT (a second one inside Optuna's own handling would lose a
        # trial): told through the run's status, each ends after its running trial.
        mark_stopping(engine, run_id)
        try:
            for worker in workers:
                worker.join(JOIN_SECONDS)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: do not wait
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        return True
    bar.update(trials_recorded(engine, run_id) - bar.n)
    failed = [w.name for w in workers if w.exitcode not in (0, None)]
    if failed:
        raise RuntimeError(f"search process {', '.join(failed)} failed: see the log")
    return run_status(engine, run_id) == "stopping"


def worker_main(config_path, request, run_id: int, index: int, trials: int, timeout, log_setup):
    """One search process: its own market and votes, the shared study. It ignores Ctrl-C:
    the parent stops it through the run's status, after its running trial."""
    from engine.search.cli import Search

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    engine = make_engine()
    if log_setup is not None:
        log_setup("optimize", make_session_factory(engine))
    seed = request.get("seed")
    request = dict(request, seed=None if seed is None else int(seed) + index)
    try:
        search = Search(load_config(config_path), request)
        optimize_here(search, engine, run_id, trials, timeout, None)
    except KeyboardInterrupt:
        return
    except Exception:
        log.exception("search process %d failed", index)
        raise
