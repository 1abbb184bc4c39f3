"""The supervisor's one worker process, shared by its main loop, the watchdog thread and the
kill switch: every change to it happens under one lock."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from datetime import datetime

from data.store.db import utcnow

log = logging.getLogger("volt.supervisor")


class WorkerProcess:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.started_at: datetime = utcnow()
        self.stopping = False  # a stop was asked for: its exit is not a crash
        self.stderr_offset = 0  # where this worker's part of the stderr file begins

    def started(self, process: subprocess.Popen, stderr_offset: int) -> None:
        """Call with `lock` held, so the watchdog never sees the process without its start."""
        self.process = process
        self.started_at = utcnow()
        self.stopping = False
        self.stderr_offset = stderr_offset

    def stop(self, timeout: float) -> subprocess.Popen | None:
        """Ask the worker to stop in order; kill it if it has not within `timeout` seconds.
        Returns the stopped process, or None when none was running."""
        with self.lock:
            process = self.process
            if process is None:
                return None
            self.stopping = True
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a stopped (SIGSTOP) worker cannot hear TERM
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker %d did not stop within %.0f s; killing it", process.pid, timeout
                )
                process.kill()
                process.wait()
        with self.lock:
            self.process = None
        return process

    def kill_now(self) -> None:
        """SIGKILL and forget the worker, whatever state it is in."""
        with self.lock:
            process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
