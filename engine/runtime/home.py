"""Runtime directory, logging to file, stderr and `events`, and the single-instance lock."""

from __future__ import annotations

import faulthandler
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from data.store.db import volt_home
from data.store.events import EventsHandler

LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5
_LOG_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"


class AlreadyRunning(Exception):
    """Another supervisor holds the lock."""


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


class InstanceLock:
    """An flock on VOLT_HOME/volt.lock; the kernel frees it when the holder dies, so a crash
    never leaves a stale lock behind."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or volt_home() / "volt.lock"
        self._fd: int | None = None

    def acquire(self, patience: float = 2.0) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # `status` probes the lock for an instant: wait that out before giving up.
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise AlreadyRunning(
                    f"VOLT is already running (supervisor pid {holder}, lock {self.path}); "
                    "stop it first with Ctrl-C in its terminal or ./start.sh stop"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
