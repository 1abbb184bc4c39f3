"""`status` and `stop` for the whole of VOLT: launcher, supervisor, worker and dashboard."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from data.store.db import as_utc, utcnow, volt_home
from data.store.state import read_state
from engine.runtime.account_lock import ENGINE_RUN, SUPERVISOR, home_account, read_holder

LAUNCHER_PID = "launcher.pid"
DASHBOARD_PID = "dashboard.pid"


@dataclass(frozen=True)
class Processes:
    launcher: int | None
    supervisor: int | None
    worker: int | None
    dashboard: int | None
    engine_run: int | None = None  # a standalone `python -m engine run` holding the account

    def alive(self) -> dict[str, int]:
        found = {
            "launcher": self.launcher,
            "supervisor": self.supervisor,
            "worker": self.worker,
            "dashboard": self.dashboard,
            "engine run": self.engine_run,
        }
        return {name: pid for name, pid in found.items() if pid and pid_alive(pid)}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but is gone for every purpose here
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def supervisor_pid(home: Path, role: str = SUPERVISOR) -> int | None:
    """The account lock holder's pid when it is a `role`, or None when no such process holds
    the lock (stale files ignored)."""
    holder = read_holder(home_account(home))
    return holder.pid if holder and holder.role == role and holder.pid else None


def _is_running(pid: int | None, *marks: str) -> int | None:
    """A pid from a file is trusted only while its command line is still VOLT's: a stale
    file must never get an unrelated process killed."""
    if not pid:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    return pid if any(mark in cmdline for mark in marks) else None


def find_processes(factory=None) -> Processes:
    home = volt_home()
    supervisor = supervisor_pid(home)
    worker = None
    if factory is not None and supervisor is not None:
        worker = _is_running(read_state(factory).worker_pid, "engine run")
    return Processes(
        launcher=_is_running(_read_pid(home / LAUNCHER_PID), "start.sh"),
        supervisor=supervisor,
        worker=worker,
        dashboard=_is_running(_read_pid(home / DASHBOARD_PID), "streamlit"),
        engine_run=supervisor_pid(home, ENGINE_RUN),
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def status_report(factory) -> tuple[bool, str]:
    """What runs and, when the store can be read (`factory` not None), what it says."""
    processes = find_processes(factory)
    alive = processes.alive()
    state = read_state(factory) if factory is not None else None
    running = "supervisor" in alive or "engine run" in alive
    lines = []
    if "supervisor" not in alive and running:
        lines.append("VOLT is running: `python -m engine run` trades this account, unsupervised")
    elif running and state is None:
        lines.append("VOLT is running")
    elif running:
        started = as_utc(state.supervisor_started_at)
        uptime = _duration((utcnow() - started).total_seconds()) if started else "?"
        lines.append(f"VOLT is running (up {uptime})")
    else:
        lines.append("VOLT is not running")
    if alive:
        lines.append("pids: " + ", ".join(f"{name} {pid}" for name, pid in alive.items()))
    if state is None:  # the store cannot be read: its one line went to stderr
        return running, "\n".join(lines)
    heartbeat = as_utc(state.heartbeat_at)
    tick = f"{(utcnow() - heartbeat).total_seconds():.0f} s ago" if heartbeat else "never"
    engine = "halted" if state.halted else state.status if running else "stopped"
    lines.append(
        f"mode {state.mode.upper()} · engine {engine} · last successful tick {tick} · "
        f"restarts {state.restarts}"
    )
    if state.halted:
        lines.append(f"halted: {state.halt_reason}")
    elif running and state.status == "key refused":
        lines.append(f"KEY REFUSED: new entries paused; {state.key_refused}")
    return running, "\n".join(lines)


def stop_all(factory, timeout: float) -> tuple[bool, str]:
    """Ordered stop through the launcher (or the supervisor); force after `timeout` seconds."""
    processes = find_processes(factory)
    alive = processes.alive()
    if not alive:
        return True, "VOLT is not running"
    first = (
        alive.get("launcher")
        or alive.get("supervisor")
        or alive.get("engine run")
        or alive.get("dashboard")
    )
    os.kill(first, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and processes.alive():
        time.sleep(0.2)
    left = processes.alive()
    if not left:
        return True, "VOLT stopped: no new orders, open orders cancelled, all processes exited"
    for pid in left.values():
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            os.kill(pid, signal.SIGKILL)
    for name in (LAUNCHER_PID, DASHBOARD_PID):  # the launcher had no chance to tidy up
        (volt_home() / name).unlink(missing_ok=True)
    names = ", ".join(f"{name} {pid}" for name, pid in left.items())
    return False, f"VOLT did not stop within {timeout:.0f} s; killed {names}"
