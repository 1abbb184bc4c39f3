"""Runtime directory, logging to file, stderr and `events`, and stopping on signals (the
account lock that keeps a second engine out is in account_lock.py)."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from data.store.db import volt_home
from data.store.events import EventsHandler

LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5
_LOG_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"


def logs_dir() -> Path:
    path = volt_home() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_logging(
    process: str, factory: sessionmaker[Session], console: bool = True
) -> logging.Logger:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = logging.Formatter(_LOG_FORMAT)
    file_handler = RotatingFileHandler(
        logs_dir() / f"{process}.log", maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS
    )
    handlers = [file_handler]
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.addHandler(EventsHandler(factory, process))
    logger = logging.getLogger(f"volt.{process}")

    def _uncaught(exc_type, exc, trace) -> None:
        logger.critical("uncaught exception", exc_info=(exc_type, exc, trace))

    def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
        logger.critical(
            "uncaught exception in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    # Fatal signals (segfault, abort) print every thread's stack to stderr, which the
    # supervisor sends to the worker's stderr log.
    faulthandler.enable()
    return logger


def stop_on_signals(stop: threading.Event, logger: logging.Logger, then: str) -> None:
    """SIGTERM, SIGINT and (in a terminal) SIGHUP mean: stop in order, never die mid-tick."""

    def _on_signal(signum, _frame) -> None:
        logger.info("received %s: %s", signal.Signals(signum).name, then)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    if os.environ.get("VOLT_DETACHED"):
        # Detached from any terminal: a stray SIGHUP must not end a night's trading.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
