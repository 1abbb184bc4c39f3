"""Keep the laptop awake while the engine runs, through systemd-inhibit where it exists.

The inhibitor is a child of the supervisor that reads a pipe: when the supervisor exits for
any reason the pipe closes, the inhibitor ends and the lock is released. It is never the
parent of the engine, so nothing that happens to it can stop trading.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time

log = logging.getLogger("volt.sleep")
INHIBIT_ARGS = [
    "--what=sleep:idle",
    "--who=VOLT",
    "--why=VOLT is trading",
    "--mode=block",
    "cat",
]


RETRY_SECONDS = 300.0  # after a failure (no session bus, polkit said no), try again this late
# systemd-inhibit that cannot inhibit (no bus, polkit) exits within a fraction of a second:
# it holds only once it has outlived this.
SETTLE_SECONDS = 1.0


class SleepInhibitor:
    def __init__(self, command: str = "systemd-inhibit") -> None:
        self.command = command
        self.process: subprocess.Popen | None = None
        self.failure = ""
        self.retry_at = 0.0

    def hold(self) -> str:
        """(Re)take the lock if needed; returns a sentence for the System page."""
        if self.process is not None and self.process.poll() is None:
            return f"sleep inhibited by {self.command}"
        if self.process is not None:
            # It ended, so the lock is gone: say so, and wait before trying again.
            self.failure = f"{self.command} exited with code {self.process.returncode}"
            self.retry_at = time.monotonic() + RETRY_SECONDS
            self.process = None
        if time.monotonic() < self.retry_at:
            return f"sleep NOT inhibited: {self.failure}; retrying every {RETRY_SECONDS:.0f} s"
        executable = shutil.which(self.command)
        if executable is None:
            return f"sleep NOT inhibited: {self.command} not found on this machine"
        process = subprocess.Popen(
            [executable, *INHIBIT_ARGS],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            code = process.wait(SETTLE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process = process
            return f"sleep inhibited by {self.command}"
        # It never held: the same sentence at every retry, so the report does not flap.
        reason = process.stderr.read().decode(errors="replace").strip().splitlines()
        process.stderr.close()
        self.failure = f"{self.command} exited with code {code}"
        if reason:
            self.failure += f" ({reason[0][:120]})"
        self.retry_at = time.monotonic() + RETRY_SECONDS
        return f"sleep NOT inhibited: {self.failure}; retrying every {RETRY_SECONDS:.0f} s"

    def release(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()  # EOF ends `cat`, which releases the lock
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
