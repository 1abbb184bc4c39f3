"""Keep the laptop awake while the engine runs, through systemd-inhibit where it exists.

The inhibitor is a child of the supervisor that reads a pipe: when the supervisor exits for
any reason the pipe closes, the inhibitor ends and the lock is released. It is never the
parent of the engine, so nothing that happens to it can stop trading.
"""

from __future__ import annotations

import logging
import shutil
import subprocess

log = logging.getLogger("volt.sleep")
INHIBIT_ARGS = [
    "--what=sleep:idle",
    "--who=VOLT",
    "--why=VOLT is trading",
    "--mode=block",
    "cat",
]


class SleepInhibitor:
    def __init__(self, command: str = "systemd-inhibit") -> None:
        self.command = command
        self.process: subprocess.Popen | None = None

    def hold(self) -> str:
        """(Re)take the lock if needed; returns a sentence for the System page."""
        if self.process is not None and self.process.poll() is None:
            return f"sleep inhibited by {self.command} (pid {self.process.pid})"
        if self.process is not None:
            log.warning(
                "%s exited with %s; taking the lock again",
                self.command,
                self.process.returncode,
                extra={"kind": "sleep_inhibit"},
            )
        executable = shutil.which(self.command)
        if executable is None:
            self.process = None
            return f"sleep NOT inhibited: {self.command} not found on this machine"
        self.process = subprocess.Popen(
            [executable, *INHIBIT_ARGS],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return f"sleep inhibited by {self.command} (pid {self.process.pid})"

    def release(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()  # EOF ends `cat`, which releases the lock
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
