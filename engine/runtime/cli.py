"""`python -m engine supervise|run|download|...`: the engine's command line."""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial

from config import ConfigError, Settings, load_config
from config.keys import dashboard_password, load_api_keys, missing_keys_message
from data.store.commands import LIVE_CONFIRMATION
from data.store.db import make_engine, make_session_factory
from engine.runtime.account_lock import ENGINE_RUN, AccountBusy, AccountLock
from engine.runtime.evidence_gate import (
    acknowledge_on_the_command_line,
    add_accept_argument,
    check_report,
)
from engine.runtime.home import setup_logging
from engine.runtime.store_check import StoreUnavailable, check_database, check_store


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    supervise = commands.add_parser("supervise", help="run the supervisor, which runs a worker")
    supervise.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")
    supervise.add_argument("--speed", type=_positive, help="clock speed (overrides the config)")
    live_help = f"confirm live trading for this start only: the word {LIVE_CONFIRMATION}"
    supervise.add_argument("--confirm-live", metavar="WORD", help=live_help)
    add_accept_argument(supervise)

    run = commands.add_parser("run", help="run one engine worker in the foreground")
    run.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")
    run.add_argument(
        "--speed", type=_positive, help="run the simulated clock X times faster than real time"
    )
    run.add_argument(
        "--for",
        dest="run_for",
        type=_positive,
        metavar="SECONDS",
        help="stop cleanly after this many wall-clock seconds",
    )
    run.add_argument("--confirm-live", metavar="WORD", help=live_help)
    add_accept_argument(run)
    run.add_argument("--supervisor-pid", type=int, help=argparse.SUPPRESS)
    run.add_argument("--supervised-setup", help=argparse.SUPPRESS)  # what was confirmed

    check = commands.add_parser("check", help="validate the config and say what would run")
    check.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")
    check.add_argument(
        "--dashboard-address",
        action="store_true",
        help="print only the address the dashboard should listen on (for start.sh)",
    )

    soak = commands.add_parser("soak", help="run the supervised engine fast with faults; audit")
    soak.add_argument("--hours", type=_positive, default=2.0, help="market hours (default 2)")
    soak.add_argument("--speed", type=_positive, default=90.0, help="clock speed (default 90)")
    soak.add_argument("--faults", choices=("on", "off"), default="on")
    soak.add_argument("--seed", type=int, default=1)
    soak.add_argument("--home", help="runtime directory (default: a new temporary one)")

    journal = commands.add_parser(
        "journal", help="write one Markdown note per trade (Obsidian-ready) into a folder"
    )
    journal.add_argument("--out", required=True, metavar="DIR", help="the notes folder")
    journal.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")

    backtest = commands.add_parser(
        "backtest", help="run the live pipeline over past candles; print and store the result"
    )
    from engine.backtest.cli import add_arguments

    add_arguments(backtest)

    optimize = commands.add_parser(
        "optimize",
        help="search the strategy's settings with Optuna; judge the best on held-out candles",
    )
    from engine.search.cli import add_arguments as optimize_arguments

    optimize_arguments(optimize)

    import_ = commands.add_parser(
        "import", help="read candle files (CSV, Feather, JSON, Parquet) into the candle store"
    )
    from data.candles.cli import add_arguments as add_import_arguments

    add_import_arguments(import_)

    download = commands.add_parser(
        "download", help="fetch public candles from the exchange into the candle store"
    )
    from engine.venues.ccxt.download_command import add_arguments as download_arguments

    download_arguments(download)

    alert_test = commands.add_parser("alert-test", help="send one test alert to every target")
    alert_test.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")
    commands.add_parser("status", help="is VOLT running: pids, uptime, mode, last tick")
    stop = commands.add_parser("stop", help="stop VOLT in order; force after a timeout")
    stop.add_argument("--timeout", type=_positive, default=60.0, help="seconds (default 60)")
    return parser


def _check_speed(settings: Settings, speed: float | None) -> None:
    if speed not in (None, 1.0) and settings.feed.kind == "ccxt":
        raise ConfigError(
            f"--speed {speed}: only a simulated or replayed market can run faster than real time"
        )


def _check_replay(settings: Settings) -> str:
    """A replay's stored candles are there (what they span), or one line says which are
    missing."""
    if settings.feed.kind != "replay":
        return ""
    from engine.venues.replay import describe_replay

    return f" ({describe_replay(settings)})"


def _keys_source(settings: Settings) -> str:
    """Where the API keys come from; refuses an exchange mode without them. Never the keys."""
    if settings.broker.kind != "ccxt":
        return "not needed"
    keys = load_api_keys()
    if keys is None:
        raise ConfigError(missing_keys_message(settings.mode))
    return f"from {keys.source}"


def _check_dashboard_access(settings: Settings) -> None:
    """A dashboard reachable from other machines can start, stop and kill: not without a
    password."""
    address = settings.dashboard.address
    if settings.dashboard.exposed and not dashboard_password():
        raise ConfigError(
            f"dashboard.address {address} lets other machines reach the controls: set "
            "VOLT_DASHBOARD_PASSWORD in the environment or .env, or bind to 127.0.0.1"
        )


def _store_ready(args: argparse.Namespace) -> str:
    """Before anything opens the store: VOLT_HOME writable, the database answering (one line
    if not). A supervised worker skips it: its supervisor checked both at start."""
    starts = args.command in ("check", "supervise") or (
        args.command == "run" and args.supervisor_pid is None
    )
    if not starts or getattr(args, "dashboard_address", False):
        return ""
    return check_store()


def _live_confirmed(settings: Settings, args: argparse.Namespace) -> bool:
    """A live start needs the typed word: given once on the command line, or typed at the
    prompt. With neither (a detached start has no terminal) it is not confirmed."""
    if settings.mode != "live":
        return True
    given = getattr(args, "confirm_live", None)
    if given is not None:
        if given != LIVE_CONFIRMATION:
            raise ConfigError(f"--confirm-live: type the word {LIVE_CONFIRMATION} exactly")
        return True
    if os.environ.get("VOLT_DETACHED") or not sys.stdin.isatty():
        return False
    exchange, quote = settings.exchange, settings.broker.quote_currency
    print(
        f"volt: LIVE mode: real orders with real money on {exchange.id}, at most "
        f"{exchange.max_order_value:g} {quote} per buy.",
        file=sys.stderr,
    )
    try:
        typed = input(f"volt: type {LIVE_CONFIRMATION} to trade live (anything else stops): ")
    except EOFError:
        typed = ""
    if typed.strip() != LIVE_CONFIRMATION:
        raise ConfigError("live trading not confirmed; nothing started")
    return True


def _status_or_stop(args: argparse.Namespace) -> int:
    from engine.runtime.control import status_report, stop_all

    factory, store_problem = None, ""
    try:
        check_database()  # one line, within seconds, where the store cannot be reached
        factory = make_session_factory(make_engine())
    except Exception as exc:
        # A corrupt or read-only store must not keep `status` or `stop` from the processes:
        # they are found through the lock and pid files, not the database.
        store_problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"volt: cannot read the store: {store_problem}", file=sys.stderr)
    if args.command == "status":
        running, report = status_report(factory)
        print(report)
        return 1 if store_problem else 0 if running else 3
    stopped, report = stop_all(factory, args.timeout)
    print(f"volt: {report}")
    return 0 if stopped and not store_problem else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("status", "stop"):
        return _status_or_stop(args)
    if args.command == "soak":
        from engine.tools.soak import run_soak

        return run_soak(args.hours, args.speed, args.faults == "on", args.seed, args.home)
    speed = getattr(args, "speed", None)
    try:
        settings = load_config(args.config)
        _check_speed(settings, speed)
        store = _store_ready(args)
        public = args.command in ("backtest", "optimize", "download", "import", "alert-test")
        keys = "not needed" if public else _keys_source(settings)
        if getattr(args, "supervised_setup", None):
            from engine.runtime.setup_check import check_supervised_setup

            check_supervised_setup(settings, args.supervised_setup)
        confirmed = (
            _live_confirmed(settings, args) if args.command in ("supervise", "run") else False
        )
        # The go-live gate, read now: a supervised worker runs what its supervisor confirmed.
        supervised = getattr(args, "supervised_setup", None)
        if settings.mode == "live" and confirmed and not supervised:
            acknowledge_on_the_command_line(settings, args, make_engine())
        if args.command in ("check", "supervise"):
            _check_dashboard_access(settings)
        replay = _check_replay(settings) if args.command in ("check", "supervise", "run") else ""
        if args.command == "check":
            from engine.wiring import check_warmup

            check_warmup(settings)
    except ConfigError as exc:
        print(f"volt: configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"volt: cannot start: {exc}", file=sys.stderr)
        return 2
    if args.command == "check" and args.dashboard_address:
        print(settings.dashboard.address)
        return 0
    if args.command == "check":
        venue = (
            f"{settings.exchange.id} "
            if "ccxt" in (settings.feed.kind, settings.broker.kind)
            else ""
        )
        print(
            f"volt: config ok: {settings.mode} mode, {venue}{settings.feed.kind} feed{replay}, "
            f"{settings.broker.kind} broker, {', '.join(settings.market.pairs)} on "
            f"{settings.market.timeframe}, clock x{settings.clock.speed:g}, API keys {keys}"
        )
        from engine.runtime.setup_check import team_lines

        print(f"volt: store: {store}")
        print(f"volt: team: {', '.join(team_lines(settings))}")
        for line in check_report(settings, make_engine()):
            print(f"volt: {line}")
        from engine.alerts.check import alert_check_lines

        for line in alert_check_lines(settings):
            print(f"volt: {line}")
        return 0
    if args.command == "alert-test":
        from engine.alerts.check import alert_check_lines, send_test_alert

        factory = make_session_factory(make_engine())
        setup_logging("alerts", factory, console=False)
        print("\n".join(f"volt: {line}" for line in alert_check_lines(settings)))
        sent = send_test_alert(settings, factory)
        print("\n".join(f"volt: {line}" for line in sent))
        return 0 if sent and all(line.endswith(": delivered") for line in sent) else 1
    if args.command == "run" and not confirmed:
        print(
            f"volt: a live worker needs the typed confirmation: --confirm-live "
            f"{LIVE_CONFIRMATION}, or start it in a terminal",
            file=sys.stderr,
        )
        return 2
    if args.command == "download":
        from engine.venues.ccxt.download_command import run_command as download
        from engine.wiring import venue_rules

        # Retries and the like go to the log and the events; the terminal gets the results.
        setup_logging("download", make_session_factory(make_engine()), console=False)
        return download(args, settings, venue_rules)
    if args.command == "journal":
        from pathlib import Path

        from engine.tools.journal_export import export_journal

        out = Path(args.out)
        written, unchanged = export_journal(make_engine(), out, settings.broker.quote_currency)
        print(f"volt: journal in {out}: {written} notes written, {unchanged} unchanged")
        return 0
    if args.command == "import":
        from data.candles.cli import run_import

        return run_import(args, settings.exchange.id)
    if args.command == "backtest":
        from engine.backtest.cli import run_command

        engine = make_engine()
        setup_logging("backtest", make_session_factory(engine), console=False)
        return run_command(args, settings, engine)
    if args.command == "optimize":
        from engine.search.cli import run_command as optimize

        engine = make_engine()
        setup_logging("optimize", make_session_factory(engine), console=False)
        return optimize(args, settings, engine, partial(setup_logging, console=False))
    if args.command == "run":
        # Before the store is opened: a second engine on this account writes nothing.
        account_lock = AccountLock.for_trading(settings, ENGINE_RUN)
        try:
            account_lock.acquire()
        except AccountBusy as exc:
            print(f"volt: {exc}", file=sys.stderr)
            return 3
    factory = make_session_factory(make_engine())
    if os.environ.get("VOLT_FAULTS_FILE"):  # the soak's fault plan, for worker and supervisor
        from engine.tools.faults import install_faults

        install_faults()
    if args.command == "supervise":
        from engine.runtime.supervisor import Supervisor

        setup_logging("supervisor", factory)
        supervisor = Supervisor(
            settings,
            factory,
            config_path=args.config,
            speed=args.speed,
            live_confirmed=confirmed,
        )
        supervisor.install_signal_handlers()
        try:
            return supervisor.run()
        except AccountBusy as exc:
            print(f"volt: {exc}", file=sys.stderr)
            return 3
    from engine.runtime.worker import Worker

    # A supervised worker's stderr file is kept for crashes (faulthandler), not the log.
    logger = setup_logging("worker", factory, console=args.supervisor_pid is None)
    for note in account_lock.notes:  # which exchange account the lock names
        logger.info(note)
    try:
        worker = Worker(
            settings,
            factory,
            speed=args.speed,
            run_for=args.run_for,
            supervisor_pid=args.supervisor_pid,
        )
    except Exception:
        logger.exception("worker could not start")
        return 1
    worker.install_signal_handlers()
    try:
        return worker.run()
    finally:
        account_lock.release()
