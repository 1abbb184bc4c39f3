"""The supervisor: the only process that starts workers. It keeps one running while the
engine should trade, restarts a dead or hung one with backoff and halts on a crash loop; the
watchdog, the kill switch and the commands' handlers are parts it owns."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from data.store.commands import LIVE_CONFIRMATION, SUPERVISOR_COMMANDS, fail_interrupted
from data.store.db import utcnow
from data.store.events import record_event
from data.store.faults import StoreFault, probe_store, store_fault
from data.store.state import read_state, update_state
from engine.alerts.dispatcher import AlertDispatcher
from engine.runtime.account_lock import SUPERVISOR, AccountLock
from engine.runtime.commands import Handler, Outcome, answer_commands
from engine.runtime.evidence_gate import warn_at_start
from engine.runtime.home import logs_dir, stop_on_signals
from engine.runtime.kill_switch import KillSwitch
from engine.runtime.live_confirmation import LiveConfirmation
from engine.runtime.metrics import record_metrics
from engine.runtime.paper_reset import PaperReset
from engine.runtime.setup_check import trading_setup
from engine.runtime.sleep_inhibitor import SleepInhibitor
from engine.runtime.supervisor_account import SupervisorAccount
from engine.runtime.watchdog import STDERR_FILE, Watchdog, agent_time_budget, describe_exit
from engine.runtime.worker_process import WorkerProcess

__all__ = ["Supervisor", "agent_time_budget"]

log = logging.getLogger("volt.supervisor")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.25
STEP_RETRY_SECONDS = 2.0


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        *,
        config_path: str | None = None,
        speed: float | None = None,
        live_confirmed: bool = False,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.config_path = config_path
        self.speed = speed if speed is not None else settings.clock.speed
        self.live = LiveConfirmation(settings, factory, live_confirmed)
        self.stop_requested = threading.Event()
        self.workers = WorkerProcess()
        self.next_start_at = 0.0
        self.recent_restarts: deque[float] = deque()
        self.last_metrics = 0.0
        self.store_fault = ""  # the store fault last reported, said once until it changes
        self.store_halt = ""  # a store that will not heal by itself: no worker is started
        # Held for the worker too (it inherits the open lock files) and the kill switch.
        self.account_lock = AccountLock.for_trading(settings, SUPERVISOR)
        self.inhibitor = SleepInhibitor()
        self._sleep_text = ""
        self.watchdog = Watchdog(settings, factory, self.workers, self.speed, self.stop_requested)
        self.account = SupervisorAccount(settings, factory, self.speed)
        self.kill_switch = KillSwitch(factory, self.account, self.workers, self.stop_worker)
        self.alerts = AlertDispatcher(settings, factory)  # its own thread; never blocks
        self.paper_reset = PaperReset(settings, factory, lambda: self.worker is not None)
        self.commands: dict[str, Handler] = {
            "start": self.start_trading,
            "stop": self.stop_trading,
            "kill": self.kill_switch.press,
            "rearm": self.rearm,
            "confirm_live": self.live.confirm,
            "reset_paper": self.paper_reset.reset,
            # Taken only while no worker runs: nobody else would close the position.
            "close_position": self.account.close_position,
        }

    @property
    def worker(self) -> subprocess.Popen | None:
        return self.workers.process

    @worker.setter
    def worker(self, process: subprocess.Popen | None) -> None:
        with self.workers.lock:
            self.workers.process = process

    # --- lifecycle ------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop_requested, log, "stopping")

    def run(self) -> int:
        self.account_lock.acquire()
        for note in self.account_lock.notes:  # which exchange account the lock names
            log.info(note)
        try:
            self._start_up()
            self.alerts.start()
            self.watchdog.start()
            while not self.stop_requested.is_set():
                try:
                    self.step()
                    if self.store_fault and not self.store_halt:
                        log.info("the store takes writes again: %s is over", self.store_fault)
                        self.store_fault = ""
                except Exception as exc:
                    # A locked or unreachable database must not end supervision.
                    fault = store_fault(exc)
                    if fault is None:
                        log.exception("supervisor step failed; retrying")
                    else:
                        self._report_store_fault(fault)
                    self.stop_requested.wait(STEP_RETRY_SECONDS)
                self.stop_requested.wait(POLL_SECONDS)
            self.stop_worker(self.settings.engine.shutdown_timeout_seconds)
            self.inhibitor.release()
            final = read_state(self.factory)
            update_state(
                self.factory, status="halted" if final.halted else "stopped", supervisor_pid=None
            )
            self.alerts.stop()  # a last pass: the stop's own alerts go out too
            log.info("supervisor stopped")
            return 0
        finally:
            self.account_lock.release()

    def _start_up(self) -> None:
        state = update_state(
            self.factory,
            supervisor_pid=os.getpid(),
            supervisor_started_at=utcnow(),
            mode=self.settings.mode,
            clock_speed=self.speed,
            worker_pid=None,
        )
        if state.halted:
            log.warning(
                "engine is halted (%s); re-arm it on the Kill switch page to trade",
                state.halt_reason,
                extra={"kind": "halted"},
            )
            update_state(self.factory, status="halted")
        else:
            update_state(self.factory, desired="running", status="starting")
        self.kill_switch.resume()
        for command_id in fail_interrupted(self.factory, "supervisor"):
            log.warning(
                "command #%d was interrupted by a supervisor restart",
                command_id,
                extra={"kind": "command_interrupted"},
            )
        self.live.refuse_stale()
        warn_at_start(self.settings, self.factory)  # testnet and live only
        log.info("supervisor started (pid %d)", os.getpid())

    def step(self) -> None:
        """One pass of the main loop: reap, answer commands, retry a flatten, start a worker
        when one should run, keep the machine awake, sample metrics."""
        self._reap_worker()
        self.handle_commands()
        self.kill_switch.retry_flatten_if_due()
        state = read_state(self.factory)
        if (
            self.worker is None
            and state.desired == "running"
            and not state.halted
            and not self.store_halt
            and time.monotonic() >= self.next_start_at
            and self.live.may_trade()
        ):
            self.start_worker()
        self.keep_awake(trading=state.desired == "running" and not state.halted)
        if time.monotonic() - self.last_metrics >= self.settings.engine.metrics_interval_seconds:
            self.last_metrics = time.monotonic()
            try:
                record_metrics(
                    self.factory,
                    self.worker.pid if self.worker else None,
                    self.settings.engine.metrics_retention_hours,
                )
            except Exception as exc:
                if store_fault(exc) is None:  # a store fault is said once, by the main loop
                    log.exception("could not record system metrics")

    def keep_awake(self, trading: bool) -> None:
        """Inhibit sleep while the engine should trade (restarts included); not when stopped."""
        if trading:
            text = self.inhibitor.hold()
        else:
            self.inhibitor.release()
            text = "sleep allowed: the engine is not trading"
        if text != self._sleep_text:
            self._sleep_text = text
            update_state(self.factory, sleep_inhibit=text)
            log.info(text, extra={"kind": "sleep_inhibit"})

    def start_worker(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "engine",
            "run",
            "--speed",
            str(self.speed),
            "--supervisor-pid",
            str(os.getpid()),
            "--supervised-setup",
            trading_setup(self.settings),
        ]
        if self.config_path:
            cmd += ["--config", str(self.config_path)]
        if self.settings.mode == "live":
            cmd += ["--confirm-live", LIVE_CONFIRMATION]  # confirmed once for this supervisor
        stderr_path = logs_dir() / STDERR_FILE
        offset = stderr_path.stat().st_size if stderr_path.exists() else 0
        lock_fds, lock_env = self.account_lock.handed_down()
        with open(stderr_path, "ab") as stderr, self.workers.lock:
            # No terminal: a worker never prompts for anything, live confirmation included.
            process = subprocess.Popen(
                cmd,
                cwd=PROJECT_ROOT,
                env={**os.environ, **lock_env},
                pass_fds=lock_fds,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            self.workers.started(process, offset)
        update_state(
            self.factory,
            worker_pid=process.pid,
            worker_started_at=self.workers.started_at,
            status="starting",
        )
        log.info("worker started (pid %d)", process.pid)

    def stop_worker(self, timeout: float) -> str:
        """Ask the worker to stop in order; kill it if it has not within `timeout` seconds."""
        process = self.workers.stop(timeout)
        if process is None:
            return "no worker was running"
        halted = read_state(self.factory).halted
        update_state(self.factory, worker_pid=None, status="halted" if halted else "stopped")
        return f"worker {process.pid} {describe_exit(process.returncode)}"

    def _reap_worker(self) -> None:
        """A worker that exited unasked: restarted after backoff, unless the engine halted."""
        exited = self.watchdog.reap()
        if exited is None:
            return
        if not exited.hang and read_state(self.factory).halted:
            update_state(self.factory, worker_pid=None, status="halted")
            log.info("worker %d stopped: the engine is halted", exited.pid)
            return
        traceback = "" if exited.hang else self.watchdog.worker_stderr()
        self._restart_after(exited.why, exited.kind, traceback)

    def _restart_after(self, why: str, kind: str, traceback: str) -> None:
        engine = self.settings.engine
        now = time.monotonic()
        fault = probe_store(self.factory)
        if fault is not None:
            # The store, not the worker: waited out (locked, full) or one halt (read-only,
            # corrupt), never counted towards a crash loop.
            self.next_start_at = now + engine.restart_backoff_max_seconds
            self._report_store_fault(fault, why)
            return
        self.store_fault = ""
        window = engine.crash_loop_minutes * 60
        while self.recent_restarts and now - self.recent_restarts[0] > window:
            self.recent_restarts.popleft()
        ended = len(self.recent_restarts) + 1  # this exit included
        delay = min(
            engine.restart_backoff_seconds * 2 ** (ended - 1), engine.restart_backoff_max_seconds
        )
        # Backoff first: if the database fails below, the next start still waits.
        self.next_start_at = now + delay
        if ended > engine.crash_loop_restarts:
            restarts = ended - 1
            reason = (
                f"crash loop: {restarts} restart{'' if restarts == 1 else 's'} within "
                f"{engine.crash_loop_minutes:g} minutes and the worker ended again; last: {why}"
            )
            update_state(self.factory, halted=True, halt_reason=reason, status="halted")
            self.recent_restarts.append(now)
            record_event(self.factory, "ERROR", "supervisor", "halted", reason, traceback=traceback)
            log.error(reason, extra={"skip_events": True})
            return
        state = read_state(self.factory)
        update_state(
            self.factory, restarts=(state.restarts or 0) + 1, worker_pid=None, status="restarting"
        )
        self.recent_restarts.append(now)  # counted once the store has the restart too
        message = f"{why}; restarting in {delay:.1f} s (restart {ended} in the window)"
        record_event(self.factory, "ERROR", "supervisor", kind, message, traceback=traceback)
        log.error(message, extra={"skip_events": True})

    def _report_store_fault(self, fault: StoreFault, why: str = "") -> None:
        """Said once per fault (no traceback, no flood); a store that will not heal by itself
        halts the engine with the fault as its reason."""
        if fault.sentence == self.store_fault:
            return
        self.store_fault = fault.sentence
        if fault.passes_by_itself:
            retry = self.settings.engine.restart_backoff_max_seconds
            prefix = f"{why}; " if why else ""
            log.warning(
                "%s%s; not counted as a crash, trying again every %.0f s",
                prefix,
                fault.sentence,
                retry,
                extra={"kind": fault.kind},
            )
            return
        self.store_halt = fault.sentence
        # Its worker could not book what it trades: stopped in order (stops cancelled, no
        # new orders), not restarted until re-armed.
        with contextlib.suppress(Exception):
            self.workers.stop(self.settings.engine.shutdown_timeout_seconds)
        # A read-only or corrupt store may refuse this too; the log still has it.
        with contextlib.suppress(Exception):
            update_state(self.factory, halted=True, halt_reason=fault.sentence, status="halted")
        log.error("engine halted: %s", fault.sentence, extra={"kind": "halted"})

    # --- commands -------------------------------------------------------------------------
    def handle_commands(self) -> None:
        """Answer the pending commands the supervisor takes, each outcome also an event."""
        answer_commands(
            self.factory, "supervisor", self.commands, self._command_kinds, as_events=True
        )

    def _command_kinds(self) -> frozenset[str]:
        # With no worker running nobody else would take a manual close: the supervisor does.
        if self.worker is None:
            return SUPERVISOR_COMMANDS | {"close_position"}
        return SUPERVISOR_COMMANDS

    def start_trading(self, _command_id: int = 0, _payload: dict | None = None) -> Outcome:
        """The `start` command."""
        state = read_state(self.factory)
        if state.halted:
            return False, "the engine is halted by the kill switch; re-arm it first"
        if not self.live.confirmed:
            return False, f"live mode: type {LIVE_CONFIRMATION} on the Control page first"
        update_state(self.factory, desired="running")
        if self.worker is not None:
            return True, f"already running (worker pid {self.worker.pid})"
        self.recent_restarts.clear()
        self.start_worker()
        return True, f"trading started (worker pid {self.worker.pid})"

    def stop_trading(self, _command_id: int = 0, _payload: dict | None = None) -> Outcome:
        """The `stop` command."""
        update_state(self.factory, desired="stopped")
        outcome = self.stop_worker(self.settings.engine.shutdown_timeout_seconds)
        return True, f"trading stopped: {outcome}"

    def rearm(self, _command_id: int = 0, _payload: dict | None = None) -> Outcome:
        """The `rearm` command: the kill switch's rules; a fresh crash-loop window."""
        return self.kill_switch.rearm(on_rearmed=self._fresh_start)

    def _fresh_start(self) -> None:
        self.recent_restarts.clear()
        self.store_fault = self.store_halt = ""
