"""`python -m engine backtest`: run, print and store a backtest (or a walk-forward)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timedelta

from sqlalchemy import Engine

from config import Settings
from data.candles import CandleGapError
from data.store.commands import finish_command
from data.store.db import make_session_factory
from engine.backtest.baseline import DRAWS
from engine.backtest.candles import (
    CandleDataError,
    Market,
    csv_market,
    parse_time,
    synthetic_market,
)
from engine.backtest.report import build_report, format_report
from engine.backtest.runner import run_backtest, team_warmup_of, warm_market
from engine.backtest.sources import parse_source, source_pairs
from engine.backtest.store import (
    claim_backtest,
    fail_run,
    finish_run,
    finish_walk_forward,
    report_progress,
    start_run,
)

log = logging.getLogger("volt.backtest")
PROGRESS_STEP = 0.02  # stored progress moves in steps this big: a write per step, not per candle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_market_arguments(parser)
    parser.add_argument("--label", default="", help="a name for the stored run")
    parser.add_argument("--walk-forward", action="store_true", help="tune weights, then test")
    parser.add_argument("--folds", type=int, default=3, help="walk-forward folds (default 3)")
    parser.add_argument("--no-store", action="store_true", help="print only; store nothing")
    parser.add_argument(
        "--export", metavar="DIR", help="write trades.csv, equity.csv and report.html into DIR"
    )
    parser.add_argument(
        "--draws",
        type=int,
        default=DRAWS,
        help=f"random runs of the chance baseline (default {DRAWS}; 0: none)",
    )
    parser.add_argument("--baseline-seed", type=int, default=0, help="its seed (default 0)")


def add_market_arguments(parser: argparse.ArgumentParser) -> None:
    """The candles a run reads (also `engine optimize`'s): --data or --synthetic, pairs, span."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data",
        nargs="+",
        action="extend",
        metavar="FILE|SERIES",
        help="candles, one per pair: files of any format `engine import` reads (CSV, freqtrade "
        "Feather/JSON, ccxt JSON, Parquet) or stored series such as binance:ETH/BTC:5m; the "
        "pairs come from the names unless --pairs gives them",
    )
    source.add_argument("--synthetic", type=int, metavar="SEED", help="the simulated market")
    # From the Backtest page: run the pending command with this id.
    source.add_argument("--command", dest="command_id", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--pairs", nargs="+", help="pairs (default: from the --data names, else the config's)"
    )
    parser.add_argument(
        "--gaps",
        choices=("refuse", "fill", "split"),
        default="refuse",
        help="missing candles in --data: refuse (default), fill flat, or use the longest "
        "stretch without one",
    )
    parser.add_argument("--from", dest="start", type=_time, help="first decision (UTC)")
    parser.add_argument("--to", dest="end", type=_time, help="last decision (UTC)")
    parser.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")


def _time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date, e.g. 2026-03-01") from None


def load_market(settings: Settings, request: dict) -> Market:
    start, end = request.get("start"), request.get("end")
    start = parse_time(start) if isinstance(start, str) else start
    end = parse_time(end) if isinstance(end, str) else end
    warmup = settings.market.history_candles
    if request.get("data"):
        sources = [parse_source(str(text)) for text in request["data"]]
        pairs = source_pairs(sources, request.get("pairs"))
        gaps = request.get("gaps") or "refuse"
        try:
            market = csv_market(sources, pairs, start, end, warmup, gaps)
        except CandleGapError as gap:
            raise CandleGapError(f"{gap}; run with --gaps fill or --gaps split") from None
    else:
        pairs = request.get("pairs") or list(settings.market.pairs)
        seed = request.get("synthetic")
        seed = settings.feed.seed if seed is None else int(seed)
        market = synthetic_market(seed, pairs, settings.market.timeframe, start, end, warmup)
    return warm_market(settings, market)  # the first decision on the first warm candle


class ProgressBar:
    """A bar redrawn in place on a terminal; a line per tenth when output is a file."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream, self.tty, self.shown = stream, stream.isatty(), -1

    def __call__(self, fraction: float) -> None:
        percent = int(fraction * 100)
        if self.tty and percent != self.shown:
            bar = "#" * (percent // 4)
            self.stream.write(f"\rbacktest [{bar:<25}] {percent:3d}%")
            if percent >= 100:
                self.stream.write("\n")
            self.stream.flush()
        elif not self.tty and percent // 10 != self.shown // 10:
            self.stream.write(f"backtest {percent}%\n")
        self.shown = percent


def run_command(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    """The CLI's backtest: 0 done, 2 bad input (the message names it), 1 anything else."""
    command_id = args.command_id
    request = {
        "data": args.data,
        "synthetic": args.synthetic,
        "pairs": args.pairs,
        "gaps": args.gaps,
        "start": args.start,
        "end": args.end,
        "label": args.label,
    }
    if command_id is not None:
        payload = claim_backtest(engine, command_id)
        if payload is None:
            print(f"volt: backtest command #{command_id} is not pending", file=sys.stderr)
            return 1
        request.update(payload)
    factory = make_session_factory(engine)
    try:
        market = load_market(settings, request)
    except CandleDataError as exc:
        log.warning("backtest refused: %s", exc, exc_info=True, extra={"kind": "backtest"})
        print(f"volt: {exc}", file=sys.stderr)
        if command_id is not None:
            finish_command(factory, command_id, False, str(exc))
        return 2
    if args.walk_forward:
        return _walk_forward(args, settings, engine, market, request)
    run_id = None
    if not args.no_store:
        run_id = start_run(
            engine,
            label=request.get("label") or "",
            source=market.source,
            pairs=market.pairs,
            timeframe=f"{market.step_seconds // 60}m",
            span=(_close(market, market.first), _close(market, -1)),
            settings=_settings_summary(settings),
            command_id=command_id,
        )
    bar = ProgressBar()
    last = [0.0]

    def progress(fraction: float) -> None:
        bar(fraction)
        if run_id is not None and fraction - last[0] >= PROGRESS_STEP:
            last[0] = fraction
            report_progress(engine, run_id, fraction)

    try:
        result = run_backtest(settings, market, store=engine, progress=progress)
        report = build_report(result, args.draws, args.baseline_seed)
        if run_id is not None:
            finish_run(engine, run_id, result, report)
    except Exception as exc:
        log.exception("backtest failed")
        if run_id is not None:
            fail_run(engine, run_id, f"{type(exc).__name__}: {exc}")
        if command_id is not None:
            finish_command(factory, command_id, False, f"{type(exc).__name__}: {exc}")
        return 1
    candles = result.stats["candles"] * len(market.pairs)
    print(
        f"volt: backtest of {', '.join(market.pairs)} on {market.source}, "
        f"decisions {_close(market, market.first):%Y-%m-%d %H:%M} to "
        f"{_close(market, -1):%Y-%m-%d %H:%M} UTC "
        f"({candles:,} candles in {result.seconds:.2f} s, {candles / result.seconds:,.0f}/s)"
    )
    print(
        f"volt: first decision {_close(market, market.first):%Y-%m-%d %H:%M} UTC, after "
        f"{market.first + 1} candles of warm-up (the team's longest window needs "
        f"{team_warmup_of(settings)})"
    )
    print(format_report(report))
    print("; ".join(result.notes))
    if run_id is not None:
        print(f"volt: stored as backtest run #{run_id}")
    if args.export:
        from engine.backtest.export import export_run

        title = f"VOLT backtest of {', '.join(market.pairs)} on {market.source}"
        paths = export_run(args.export, result, report, title)
        print(f"volt: exported {', '.join(str(p) for p in paths)}")
    if command_id is not None:
        summary = f"run #{run_id}: return {result.stats['return_pct']:+.2f}%"
        p_value = report.stats["chance_p_value"]
        chance = f", chance p = {p_value:.3f}" if p_value == p_value else ""
        finish_command(
            factory, command_id, True, f"{summary}, {result.stats['trades']} trades{chance}"
        )
    return 0


def _walk_forward(args, settings: Settings, engine: Engine, market: Market, request) -> int:
    """Tune and test fold by fold; print and store the joined test windows."""
    from engine.backtest.out_of_sample import combine
    from engine.backtest.walk_forward import print_walk_forward, walk_forward

    run_id = None
    if not args.no_store:
        label = request.get("label") or f"walk-forward, {args.folds} folds"
        run_id = start_run(
            engine,
            label=label,
            source=market.source,
            pairs=market.pairs,
            timeframe=f"{market.step_seconds // 60}m",
            span=(_close(market, market.first), _close(market, -1)),
            settings={**_settings_summary(settings), "walk_forward_folds": args.folds},
        )
    try:
        folds = walk_forward(settings, market, args.folds, progress=ProgressBar())
        combined = combine(
            [f.test_result for f in folds],
            [f.configured_result for f in folds],
            args.draws,
            args.baseline_seed,
        )
        if run_id is not None:
            finish_walk_forward(engine, run_id, folds, combined)
    except Exception as exc:
        log.exception("walk-forward failed")
        if run_id is not None:
            fail_run(engine, run_id, f"{type(exc).__name__}: {exc}")
        return 1
    print_walk_forward(folds, combined)
    if run_id is not None:
        print(f"volt: stored as backtest run #{run_id} (the joined test windows)")
    return 0


def _close(market: Market, row: int) -> datetime:
    return (market.index[row] + timedelta(seconds=market.step_seconds)).to_pydatetime()


def _settings_summary(settings: Settings) -> dict:
    return {
        "weights": dict(settings.agents.weights),
        "thresholds": dict(settings.consensus.thresholds),
        "fee_rate": settings.broker.fee_rate,
        "slippage_rate": settings.broker.slippage_rate,
        "starting_capital": settings.broker.starting_capital,
        "history_candles": settings.market.history_candles,
        "risk": settings.risk.model_dump(),
    }
