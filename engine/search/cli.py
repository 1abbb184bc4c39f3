"""`python -m engine optimize`: search the settings of `config.search_space` with Optuna on
in-sample folds, judge the best on the held-out window, store the study, the trials and the
evidence, and optionally write the chosen parameters as a new config file."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

from sqlalchemy import Engine

from config import Settings
from config.fingerprint import strategy_fingerprint
from config.loading import ConfigError
from config.search_space import OBJECTIVES, SearchSpaceError, changed_sections, search_space
from config.writing import check_new_config, write_config
from data.store.commands import finish_command
from data.store.db import make_session_factory, volt_home
from engine.backtest.baseline import DRAWS
from engine.backtest.candles import CandleDataError
from engine.backtest.cli import add_market_arguments, load_market
from engine.search.evidence import record_search_evidence
from engine.search.records import (
    claim_command,
    finish_search_run,
    start_search_run,
    trials_recorded,
)
from engine.search.running import run_trials
from engine.search.split import span_text, split_market
from engine.search.study import StudyError, defaults_of, load_study, open_storage
from engine.search.trials import TrialMarket
from engine.search.verdict import judge_study, print_outcome

log = logging.getLogger("volt.optimize")
REQUEST_KEYS = (
    "data",
    "synthetic",
    "pairs",
    "gaps",
    "start",
    "end",
    "trials",
    "objective",
    "folds",
    "holdout",
    "seed",
    "study",
    "jobs",
    "min_trades",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_market_arguments(parser)
    parser.add_argument("--trials", type=int, help="trials to run now (default [optimize])")
    parser.add_argument("--objective", choices=OBJECTIVES, help="what a trial maximises")
    parser.add_argument("--folds", type=int, help="in-sample folds (default [optimize])")
    parser.add_argument(
        "--holdout", type=float, help="share of the span held out, never searched (0.25)"
    )
    parser.add_argument("--min-trades", type=int, help="fewer in-sample trades score worst")
    parser.add_argument("--seed", type=int, help="the sampler's seed: the same trials again")
    parser.add_argument(
        "--jobs", type=int, help=f"processes on this machine (default {os.cpu_count()})"
    )
    parser.add_argument("--study", help="the study's name: the same name resumes it")
    parser.add_argument(
        "--storage",
        help="where the study lives: postgresql://… to share it between machines "
        "(default: a journal file under VOLT_HOME/studies)",
    )
    parser.add_argument("--timeout", type=float, help="stop starting trials after N seconds")
    parser.add_argument("--no-prune", action="store_true", help="finish every trial's folds")
    parser.add_argument(
        "--write-config", metavar="FILE", help="write the chosen parameters as a new config file"
    )
    parser.add_argument("--draws", type=int, default=DRAWS, help="chance-baseline draws")


def run_command(
    args: argparse.Namespace, settings: Settings, engine: Engine, log_setup=None
) -> int:
    """0 done (or stopped with its finished trials kept), 2 bad input, 1 anything else.
    `log_setup(process, factory)` sets up logging in each further search process."""
    request = {key: getattr(args, key, None) for key in REQUEST_KEYS}
    request["storage"] = args.storage
    request["prune"] = not args.no_prune
    factory = make_session_factory(engine)
    if args.command_id is not None:
        payload = claim_command(engine, args.command_id, "optimize")
        if payload is None:
            print(f"volt: optimize command #{args.command_id} is not pending", file=sys.stderr)
            return 1
        request.update({k: v for k, v in payload.items() if k in REQUEST_KEYS})
    try:
        if args.write_config:  # refused before a search, not after it
            check_new_config(args.write_config)
        search = Search(settings, request)
    except (CandleDataError, ConfigError, SearchSpaceError, StudyError, ValueError) as exc:
        log.warning("optimize refused: %s", exc, exc_info=True, extra={"kind": "optimize"})
        print(f"volt: {exc}", file=sys.stderr)
        if args.command_id is not None:
            finish_command(factory, args.command_id, False, str(exc))
        return 2
    run_id = start_search_run(engine, **search.run_fields(args.command_id))
    print(search.heading(run_id))
    status, message = "failed", "ended before its verdict"
    try:
        stopped = run_trials(search, run_id, args.config, args.timeout, log_setup)
        outcome = judge_study(search.study, search.bench, args.draws, 0)
        print_outcome(outcome, search.study, search.held_span)
        gap = record_search_evidence(engine, run_id, search, outcome)
        if gap is not None:
            print(f"volt: no go-live evidence filed: {gap}")
        written = _write_config(args.write_config, args.config, search, outcome, run_id)
        status = "stopped" if stopped else "done"
        message = f"{trials_recorded(engine, run_id)} trials; {outcome.verdict}"
        summary = outcome.summary() | {"config_written": written, "no_evidence": gap}
        finish_search_run(
            engine,
            run_id,
            status,
            message,
            best_params=outcome.best_params,
            importances=outcome.importances,
            summary=summary,
        )
    except (Exception, KeyboardInterrupt) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        message = (
            "interrupted before its verdict" if interrupted else (f"{type(exc).__name__}: {exc}")
        )
        log.error("optimize run #%d failed: %s", run_id, message, exc_info=not interrupted)
        finish_search_run(engine, run_id, "stopped" if interrupted else "failed", message)
        if args.command_id is not None:
            finish_command(factory, args.command_id, False, message)
        print(f"volt: optimize run #{run_id}: {message}", file=sys.stderr)
        return 1
    print(
        f"volt: study {search.name!r} in {search.storage_shown}: {len(search.study.trials)} "
        f"trials in all; stored as optimize run #{run_id}"
        + (" (stopped: every finished trial kept)" if stopped else "")
    )
    if args.command_id is not None:
        finish_command(factory, args.command_id, True, f"run #{run_id}: {outcome.verdict}")
    return 0


class Search:
    """Everything a search process needs, rebuilt the same way in every worker process."""

    def __init__(self, settings: Settings, request: dict) -> None:
        self.settings, self.request = settings, request
        opt = settings.optimize
        self.objective = request.get("objective") or opt.objective
        self.trials = int(request.get("trials") or opt.trials)
        self.jobs = max(1, int(request.get("jobs") or os.cpu_count() or 1))
        self.seed = request.get("seed")
        self.space = search_space(settings)
        market = load_market(settings, request)
        first = max(market.first, settings.market.history_candles - 1)
        self.split = split_market(
            market,
            int(request.get("folds") or opt.folds),
            request.get("holdout") or opt.holdout,
            first,
        )
        self.market = market
        self.bench = TrialMarket(
            settings,
            market,
            self.split,
            self.objective,
            int(
                request.get("min_trades")
                if request.get("min_trades") is not None
                else opt.min_trades
            ),
        )
        self.fingerprint = strategy_fingerprint(settings)
        self.held_span = span_text(market, self.split.held_out)
        self.identity = {
            # The data by name and span, not path: machines sharing a study keep files apart.
            "source": [Path(str(d)).name for d in request["data"]]
            if request.get("data")
            else market.source,
            "pairs": list(market.pairs),
            "timeframe": f"{market.step_seconds // 60}m",
            "in_sample": [list(span_text(market, rows)) for rows in self.split.in_sample],
            "held_out": list(self.held_span),
            "objective": self.objective,
            "fingerprint": self.fingerprint,
            "space": [[d.path, d.low, d.high, d.step] for d in self.space],
            "min_trades": self.bench.min_trades,
        }
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()
        self.name = request.get("study") or (
            f"{'-'.join(p.replace('/', '') for p in market.pairs)}-{self.identity['timeframe']}"
            f"-{self.objective}-{digest[:8]}"
        )
        self.storage, self.storage_shown = open_storage(request.get("storage"), volt_home())
        self.prune = bool(request.get("prune", True))
        self.study = load_study(self.name, self.storage, self.seed, self.prune, self.identity)

    def enqueue_defaults(self) -> None:
        """A new study tries the configured values first: the search starts from them."""
        if not self.study.trials:
            self.study.enqueue_trial(defaults_of(self.settings, self.space))

    def run_fields(self, command_id: int | None) -> dict:
        return {
            "study": self.name,
            "storage": self.storage_shown,
            "objective": self.objective,
            "seed": self.seed,
            "trials_asked": self.trials,
            "source": self.market.source,
            "pairs": list(self.market.pairs),
            "timeframe": self.identity["timeframe"],
            "spans": {"in_sample": self.identity["in_sample"], "held_out": list(self.held_span)},
            "config_fingerprint": self.fingerprint,
            "command_id": command_id,
        }

    def heading(self, run_id: int) -> str:
        resumed = f", resuming {len(self.study.trials)} stored trials" if self.study.trials else ""
        folds = self.identity["in_sample"]
        return (
            f"volt: optimize run #{run_id}: study {self.name!r}{resumed}; {self.trials} trials "
            f"on {self.jobs} process{'es' if self.jobs > 1 else ''}, objective {self.objective}, "
            f"{len(self.space)} settings searched\n"
            f"volt: in sample {folds[0][0][:16]} .. {folds[-1][1][:16]} in {len(folds)} folds; "
            f"held out {self.held_span[0][:16]} .. {self.held_span[1][:16]} UTC (never searched)"
        )


def _write_config(path, base, search: Search, outcome, run_id: int) -> str | None:
    if not path:
        return None
    if not outcome.best_params:
        print("volt: no config written: the defaults were the best trial")
        return None
    header = (
        f"Written by `python -m engine optimize` (run #{run_id}, study {search.name}, "
        f"trial #{outcome.best_number}).\nHeld out {search.held_span[0][:16]} .. "
        f"{search.held_span[1][:16]}: {outcome.verdict}."
    )
    try:
        written = write_config(
            path, base, changed_sections(search.settings, outcome.best_params), header
        )
    except (ConfigError, OSError) as exc:
        log.warning("config not written: %s", exc, exc_info=True)
        print(f"volt: config not written: {exc}", file=sys.stderr)
        return None
    print(f"volt: wrote {written} (use it with --config {written} or VOLT_CONFIG)")
    return str(written)
