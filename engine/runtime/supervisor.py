"""The supervisor: the only process that starts workers. Restarts, watchdog, commands, kill."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from data.store.commands import (
    LIVE_CONFIRMATION,
    SUPERVISOR_COMMANDS,
    claim_next_command,
    fail_interrupted,
    fail_pending_before,
    finish_command,
    get_command,
    kill_in_force,
    requeue_interrupted_kill,
)
from data.store.db import as_utc, utcnow
from data.store.events import record_event
from data.store.models import Position
from data.store.state import read_state, update_state
from engine.clock import make_clock
from engine.runtime.home import InstanceLock, logs_dir, stop_on_signals
from engine.runtime.metrics import record_metrics
from engine.runtime.setup_check import trading_setup
from engine.runtime.sleep_inhibitor import SleepInhibitor
from engine.trading.reconcile import holdings_mismatches, reconcile
from engine.wiring import build_trader

log = logging.getLogger("volt.supervisor")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIRST_TICK_GRACE_SECONDS = 60.0
KILL_STOP_TIMEOUT_SECONDS = 5.0
KILL_CLOSE_ATTEMPTS = 3
KILL_RETRY_SECONDS = 1.0  # doubles after each attempt that left something open
HALT_RETRY_SECONDS = 0.2  # a halt that could not be written: retried, doubling up to
HALT_RETRY_MAX_SECONDS = 5.0
HALTED_FLATTEN_FIRST_SECONDS = 5.0  # a failed kill: the flatten is retried, doubling up to
HALTED_FLATTEN_MAX_SECONDS = 300.0
POLL_SECONDS = 0.25
WATCHDOG_SECONDS = 0.25
STEP_RETRY_SECONDS = 2.0
STALE_CONFIRMATION = (
    f"typed before this supervisor started, so it does not count: type {LIVE_CONFIRMATION} "
    "again on the Control page"
)


def agent_time_budget(settings: Settings) -> float:
    """Wall seconds one tick may spend waiting on agents that ask over the network: the
    LLM's budget for every pair, and one bounded fetch of the Fear & Greed index."""
    agents = settings.agents
    budget = 0.0
    if agents.weights.get("llm", 0) > 0:
        budget += agents.llm.timeout_seconds * len(settings.market.pairs)
    if agents.weights.get("sentiment", 0) > 0 and agents.sentiment.source == "fear_greed":
        budget += agents.sentiment.timeout_seconds
    return budget


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class FlattenRetry:
    """A failed kill's flatten, to try again at `at` (monotonic), then after `delay`."""

    command_id: int
    at: float
    delay: float


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
        # Live trading waits for a typed confirmation: at the prompt, or on the Control page.
        self.live_confirmed = live_confirmed or settings.mode != "live"
        # Only a confirmation typed while this supervisor runs counts: one typed while the
        # engine was down may be days old, for another config.
        self.started_at = utcnow()
        self._awaiting_confirmation = False
        self.factory = factory
        self.config_path = config_path
        self.speed = speed if speed is not None else settings.clock.speed
        self.stop_requested = threading.Event()
        self.worker: subprocess.Popen | None = None
        self.worker_started_at = utcnow()
        self.stopping_worker = False
        self.next_start_at = 0.0
        self.recent_restarts: deque[float] = deque()
        self.last_metrics = 0.0
        self.lock = InstanceLock()
        self._worker_lock = threading.Lock()
        self._hang_reasons: dict[int, str] = {}
        self._stderr_offset = 0
        self.inhibitor = SleepInhibitor()
        self._sleep_text = ""
        self._flatten_retry: FlattenRetry | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop_requested, log, "stopping")

    def run(self) -> int:
        self.lock.acquire()
        try:
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
            self._resume_kill()
            for command_id in fail_interrupted(self.factory, "supervisor"):
                log.warning(
                    "command #%d was interrupted by a supervisor restart",
                    command_id,
                    extra={"kind": "command_interrupted"},
                )
            for command_id in fail_pending_before(
                self.factory, "confirm_live", self.started_at, STALE_CONFIRMATION
            ):
                log.warning(
                    "live confirmation #%d: %s",
                    command_id,
                    STALE_CONFIRMATION,
                    extra={"kind": "live_confirmation"},
                )
            log.info("supervisor started (pid %d)", os.getpid())
            watchdog = threading.Thread(target=self._watchdog, name="watchdog", daemon=True)
            watchdog.start()
            while not self.stop_requested.is_set():
                try:
                    self._step()
                except Exception:
                    # A locked or unreachable database must not end supervision.
                    log.exception("supervisor step failed; retrying")
                    self.stop_requested.wait(STEP_RETRY_SECONDS)
                self.stop_requested.wait(POLL_SECONDS)
            self.stop_worker(self.settings.engine.shutdown_timeout_seconds)
            self.inhibitor.release()
            final = read_state(self.factory)
            update_state(
                self.factory, status="halted" if final.halted else "stopped", supervisor_pid=None
            )
            log.info("supervisor stopped")
            return 0
        finally:
            self.lock.release()

    def _resume_kill(self) -> None:
        """A kill in force outlives the supervisor: halted whatever its status; one a dead
        supervisor left unfinished runs again; one that failed is retried."""
        with self.factory() as session:
            kill = kill_in_force(session)
        if kill is None:
            return
        state = read_state(self.factory)
        if not state.halted:
            update_state(
                self.factory,
                halted=True,
                desired="stopped",
                status="halted",
                halt_reason=f"kill switch (command #{kill.id})",
            )
        if requeue_interrupted_kill(self.factory) is not None:
            log.warning(
                "kill switch #%d was interrupted by a supervisor restart: running it again",
                kill.id,
                extra={"kind": "kill_switch"},
            )
        elif kill.status == "failed":
            self._schedule_flatten_retry(kill.id, delay=0.0)

    def _step(self) -> None:
        self._watch_worker()
        self._handle_commands()
        self._retry_flatten_if_due()
        state = read_state(self.factory)
        if (
            self.worker is None
            and state.desired == "running"
            and not state.halted
            and time.monotonic() >= self.next_start_at
            and self._may_trade_live()
        ):
            self.start_worker()
        self._keep_awake(trading=state.desired == "running" and not state.halted)
        if time.monotonic() - self.last_metrics >= self.settings.engine.metrics_interval_seconds:
            self.last_metrics = time.monotonic()
            try:
                record_metrics(
                    self.factory,
                    self.worker.pid if self.worker else None,
                    self.settings.engine.metrics_retention_hours,
                )
            except Exception:
                log.exception("could not record system metrics")

    def _may_trade_live(self) -> bool:
        if self.live_confirmed:
            return True
        if not self._awaiting_confirmation:
            self._awaiting_confirmation = True
            update_state(self.factory, status="confirm_live")
            log.warning(
                "LIVE mode: no worker starts until someone types %s on the Control page "
                "(or starts with: python -m engine supervise --confirm-live %s)",
                LIVE_CONFIRMATION,
                LIVE_CONFIRMATION,
                extra={"kind": "live_confirmation"},
            )
        return False

    def _keep_awake(self, trading: bool) -> None:
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
        stderr_path = logs_dir() / "worker.stderr.log"
        self._stderr_offset = stderr_path.stat().st_size if stderr_path.exists() else 0
        with open(stderr_path, "ab") as stderr, self._worker_lock:
            # No terminal: a worker never prompts for anything, live confirmation included.
            self.worker = subprocess.Popen(
                cmd,
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            self.worker_started_at = utcnow()
            self.stopping_worker = False
        update_state(
            self.factory,
            worker_pid=self.worker.pid,
            worker_started_at=self.worker_started_at,
            status="starting",
        )
        log.info("worker started (pid %d)", self.worker.pid)

    def stop_worker(self, timeout: float) -> str:
        """Ask the worker to stop in order; kill it if it has not within `timeout` seconds."""
        with self._worker_lock:
            worker = self.worker
            if worker is None:
                return "no worker was running"
            self.stopping_worker = True
        if worker.poll() is None:
            worker.send_signal(signal.SIGCONT)  # a stopped (SIGSTOP) worker cannot hear TERM
            worker.terminate()
            try:
                worker.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop within %.0f s; killing it", worker.pid, timeout)
                worker.kill()
                worker.wait()
        with self._worker_lock:
            self.worker = None
        halted = read_state(self.factory).halted
        update_state(self.factory, worker_pid=None, status="halted" if halted else "stopped")
        return f"worker {worker.pid} {describe_exit(worker.returncode)}"

    # --- watchdog -------------------------------------------------------------------------
    def _watch_worker(self) -> None:
        """Main loop: reap a worker that exited, and say why it did."""
        with self._worker_lock:
            worker = self.worker
            if worker is None or worker.poll() is None:
                return
            self.worker = None
            hang = self._hang_reasons.pop(worker.pid, None)
        if self.stopping_worker:
            return
        if not hang and read_state(self.factory).halted:
            update_state(self.factory, worker_pid=None, status="halted")
            log.info("worker %d stopped: the engine is halted", worker.pid)
            return
        if hang:
            self._restart_after(hang, kind="hang")
        else:
            why = f"worker {worker.pid} {describe_exit(worker.returncode)}"
            self._restart_after(why, traceback=self._worker_stderr())

    def _watchdog(self) -> None:
        """Own thread: it only reads the heartbeat (a read never waits in WAL mode) and kills,
        so neither a busy main loop nor a frozen worker holding the write lock can stall it."""
        while not self.stop_requested.wait(WATCHDOG_SECONDS):
            try:
                self._check_heartbeat()
            except Exception:
                log.exception("watchdog check failed")

    def _check_heartbeat(self) -> None:
        with self._worker_lock:
            worker, started = self.worker, self.worker_started_at
        if worker is None or self.stopping_worker:
            return
        engine = self.settings.engine
        # A tick's compute time does not shrink with clock speed, hence the floor; the LLM
        # may use its time budget for every pair on top.
        limit = max(
            engine.hang_intervals * engine.tick_seconds / self.speed, engine.hang_min_seconds
        ) + agent_time_budget(self.settings)
        heartbeat = as_utc(read_state(self.factory).heartbeat_at)
        if heartbeat is None or heartbeat < started:
            # Until its first tick, a worker gets a grace period for imports and warm-up.
            age = (utcnow() - started).total_seconds()
            allowed = limit + FIRST_TICK_GRACE_SECONDS
        else:
            age = (utcnow() - heartbeat).total_seconds()
            allowed = limit
        if age <= allowed:
            return
        with self._worker_lock:
            if self.worker is worker and not self.stopping_worker and worker.poll() is None:
                self._hang_reasons[worker.pid] = (
                    f"worker {worker.pid} hung: no successful tick for {age:.1f} s "
                    f"(limit {allowed:.1f} s); killed it"
                )
                worker.kill()

    def _worker_stderr(self) -> str:
        """What the dead worker wrote to stderr: faulthandler's dump after a fatal signal."""
        try:
            with open(logs_dir() / "worker.stderr.log", "rb") as stderr:
                stderr.seek(self._stderr_offset)
                return stderr.read()[-20_000:].decode(errors="replace")
        except OSError:
            return ""

    def _restart_after(self, why: str, kind: str = "worker_died", traceback: str = "") -> None:
        engine = self.settings.engine
        now = time.monotonic()
        self.recent_restarts.append(now)
        window = engine.crash_loop_minutes * 60
        while self.recent_restarts and now - self.recent_restarts[0] > window:
            self.recent_restarts.popleft()
        attempt = len(self.recent_restarts)
        delay = min(
            engine.restart_backoff_seconds * 2 ** (attempt - 1), engine.restart_backoff_max_seconds
        )
        # Backoff first: if the database fails below, the next start still waits.
        self.next_start_at = now + delay
        state = read_state(self.factory)
        update_state(self.factory, restarts=(state.restarts or 0) + 1, worker_pid=None)
        if attempt > engine.crash_loop_restarts:
            reason = (
                f"crash loop: {attempt} restarts within "
                f"{engine.crash_loop_minutes:g} minutes; last: {why}"
            )
            update_state(self.factory, halted=True, halt_reason=reason, status="halted")
            record_event(self.factory, "ERROR", "supervisor", "halted", reason, traceback=traceback)
            log.error(reason, extra={"skip_events": True})
            return
        update_state(self.factory, status="restarting")
        message = f"{why}; restarting in {delay:.1f} s (restart {attempt} in the window)"
        record_event(self.factory, "ERROR", "supervisor", kind, message, traceback=traceback)
        log.error(message, extra={"skip_events": True})

    # --- commands -------------------------------------------------------------------------
    def _handle_commands(self) -> None:
        while command := claim_next_command(self.factory, self._command_kinds(), "supervisor"):
            log.info("command #%d: %s", command.id, command.kind)
            try:
                handler = getattr(self, f"_command_{command.kind}")
                ok, result = handler(command.id, command.payload or {})
            except Exception as exc:
                log.exception("command %s #%d failed", command.kind, command.id)
                ok, result = False, f"{type(exc).__name__}: {exc}"
            finish_command(self.factory, command.id, ok, result)
            record_event(
                self.factory,
                "INFO" if ok else "ERROR",
                "supervisor",
                f"command_{command.kind}",
                f"{command.kind} #{command.id} {'done' if ok else 'failed'}: {result}",
            )

    def _command_kinds(self) -> frozenset[str]:
        # With no worker running nobody else would take a manual close: the supervisor does.
        if self.worker is None:
            return SUPERVISOR_COMMANDS | {"close_position"}
        return SUPERVISOR_COMMANDS

    def _command_confirm_live(self, command_id: int, payload: dict) -> tuple[bool, str]:
        if self.settings.mode != "live":
            return False, f"the engine runs in {self.settings.mode} mode; nothing to confirm"
        command = get_command(self.factory, command_id)
        if command is None or as_utc(command.ts) < self.started_at:
            return False, STALE_CONFIRMATION
        if payload.get("typed") != LIVE_CONFIRMATION:
            return False, f"not confirmed: type {LIVE_CONFIRMATION} exactly"
        self.live_confirmed = True
        log.warning(
            "LIVE trading confirmed on the dashboard: real orders from now on",
            extra={"kind": "live_confirmation"},
        )
        return True, "live trading confirmed; the worker starts unless trading is stopped"

    def _command_start(self, _command_id: int, _payload: dict | None = None) -> tuple[bool, str]:
        state = read_state(self.factory)
        if state.halted:
            return False, "the engine is halted by the kill switch; re-arm it first"
        if not self.live_confirmed:
            return False, f"live mode: type {LIVE_CONFIRMATION} on the Control page first"
        update_state(self.factory, desired="running")
        if self.worker is not None:
            return True, f"already running (worker pid {self.worker.pid})"
        self.recent_restarts.clear()
        self.start_worker()
        return True, f"trading started (worker pid {self.worker.pid})"

    def _command_stop(self, _command_id: int, _payload: dict | None = None) -> tuple[bool, str]:
        update_state(self.factory, desired="stopped")
        outcome = self.stop_worker(self.settings.engine.shutdown_timeout_seconds)
        return True, f"trading stopped: {outcome}"

    def _command_rearm(self, _command_id: int, _payload: dict | None = None) -> tuple[bool, str]:
        # The last kill decides first: a kill whose halt never got written still blocks.
        with self.factory() as session:
            last_kill = kill_in_force(session)
        if last_kill is not None and last_kill.status != "done":
            if last_kill.status in ("pending", "claimed"):
                return False, f"the kill switch (#{last_kill.id}) is still running; wait for it"
            return False, (
                f"the last kill switch (#{last_kill.id}) did not close everything: "
                f"{last_kill.result}. Press it again until it succeeds, then re-arm"
            )
        state = read_state(self.factory)
        if not state.halted and last_kill is None:
            return True, "the engine was not halted"
        update_state(self.factory, halted=False, halt_reason="", desired="running")
        self.recent_restarts.clear()
        self._flatten_retry = None
        return True, "re-armed: trading resumes"

    def _command_kill(self, command_id: int, _payload: dict | None = None) -> tuple[bool, str]:
        self._flatten_retry = None  # this press supersedes any retry of an earlier kill
        try:
            already = read_state(self.factory).halted
        except Exception:
            log.exception("kill switch #%d: could not read the engine state", command_id)
            already = False
        halt = {
            "halted": True,
            "desired": "stopped",
            "status": "halted",
            "halt_reason": f"kill switch (command #{command_id})",
        }
        # Halt in the database first: from this commit on no worker can be started. Entries
        # are refused from the press on anyway: the risk gate blocks while a kill is in force.
        try:
            update_state(self.factory, **halt)
            halted = True
        except Exception:
            # A worker stuck mid-order may hold the write lock: stop it regardless, then retry.
            log.exception(
                "kill switch #%d: could not write the halt; stopping the worker anyway",
                command_id,
                extra={"kind": "kill_switch"},
            )
            halted = False
        stopped = self._stop_worker_for_kill(command_id)
        if not halted:
            self._until_committed(
                lambda: update_state(self.factory, **halt),
                f"kill switch #{command_id}: writing the halt",
            )
        closed, failed, attempts = self.flatten(command_id)
        again = "already halted: retried what was left; " if already else ""
        summary = f"{again}{stopped}; " + "; ".join(closed)
        if failed:
            left = "; ".join(failed)
            self._schedule_flatten_retry(command_id)
            update_state(
                self.factory,
                halt_reason=f"kill switch (command #{command_id}) could not close: {left}",
            )
            log.error(
                "kill switch #%d: NOT CLOSED after %d attempts: %s",
                command_id,
                attempts,
                left,
                extra={"skip_events": True},  # the command's failure is the event
            )
            return False, (
                f"{summary}; NOT CLOSED after {attempts} attempts: {left}; engine stays "
                "halted; the supervisor keeps retrying, or press the kill switch again"
            )
        return True, f"{summary}; engine halted until re-armed"

    def _stop_worker_for_kill(self, command_id: int) -> str:
        """Stop the worker whatever else fails: the process goes even if the database won't."""
        try:
            return self.stop_worker(KILL_STOP_TIMEOUT_SECONDS)
        except Exception as exc:
            log.exception(
                "kill switch #%d: stopping the worker in order failed; killing it",
                command_id,
                extra={"kind": "kill_switch"},
            )
            with self._worker_lock:
                worker, self.worker = self.worker, None
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait()
            return f"worker stopped ({type(exc).__name__} on the way: {exc})"

    def _until_committed(self, write, what: str) -> None:
        """Retry a write the kill switch cannot do without until it commits, with a bounded
        backoff; each failure is logged with its traceback (and so is an event)."""
        delay, attempt = HALT_RETRY_SECONDS, 1
        while True:
            try:
                write()
                if attempt > 1:
                    log.warning("%s: committed at attempt %d", what, attempt)
                return
            except Exception:
                log.exception(
                    "%s failed (attempt %d); retrying in %.1f s",
                    what,
                    attempt,
                    delay,
                    extra={"kind": "kill_switch"},
                )
            time.sleep(delay)  # not stop_requested: a shutdown must not cut the kill short
            delay = min(delay * 2, HALT_RETRY_MAX_SECONDS)
            attempt += 1

    def _own_trader(self):
        """A trader with the supervisor's own broker, so it works with the worker dead."""
        state = read_state(self.factory)
        resume = None if self.settings.feed.kind == "ccxt" else as_utc(state.market_time)
        return build_trader(self.settings, self.factory, make_clock(self.speed, resume))

    def flatten(self, command_id: int) -> tuple[list[str], list[str], int]:
        """Close everything with the supervisor's own broker, so it works with the worker dead;
        retried with backoff. Returns (what was done, what is still open and why, attempts)."""
        trader = self._own_trader()
        closed: list[str] = []
        delay = KILL_RETRY_SECONDS
        for attempt in range(1, KILL_CLOSE_ATTEMPTS + 1):
            done, failed = self._flatten_once(trader, command_id)
            closed += [line for line in done if line.startswith("closed ")]
            if not failed:
                break
            if attempt < KILL_CLOSE_ATTEMPTS:
                log.warning(
                    "kill switch #%d attempt %d of %d left open: %s; retrying in %.1f s",
                    command_id,
                    attempt,
                    KILL_CLOSE_ATTEMPTS,
                    "; ".join(failed),
                    delay,
                    extra={"kind": "kill_switch"},
                )
                time.sleep(delay)  # not stop_requested: a shutdown must not cut the kill short
                delay *= 2
        closed += [line for line in done if not line.startswith("closed ")]
        return closed, failed, attempt

    def _flatten_once(self, trader, command_id: int) -> tuple[list[str], list[str]]:
        """One attempt. Each step is on its own: a failing one never stops the closes."""
        try:
            # The worker may have died between the broker's fill and its own record of it:
            # bring the book up to date first, or the flatten would miss that position.
            for finding in reconcile(trader):
                log.warning(
                    "reconciliation before the flatten: %s",
                    finding,
                    extra={"kind": "reconciliation"},
                )
        except Exception:
            log.exception(
                "kill switch #%d: reconciliation before the flatten failed; closing what the "
                "book holds",
                command_id,
                extra={"kind": "kill_switch"},
            )
        try:
            done, failed = trader.flatten("kill_switch", f"k{command_id}")
        except Exception as exc:
            log.exception("kill switch #%d: the flatten failed", command_id)
            done, failed = [], [f"{type(exc).__name__}: {exc}"]
        try:
            # On an exchange account, coins VOLT never bought are its owner's: only a
            # shortfall fails.
            surplus = trader.broker.exclusive_account
            failed += [f"account mismatch: {m}" for m in holdings_mismatches(trader, surplus)]
        except Exception as exc:
            log.exception("kill switch #%d: the account check failed", command_id)
            failed.append(f"account check failed: {type(exc).__name__}: {exc}")
        if failed:
            failed += [
                f"{pair}: still open"
                for pair in self._open_pairs()
                if not any(line.startswith(pair) for line in failed)
            ]
        return done, failed

    def _open_pairs(self) -> list[str]:
        """The pairs the database still holds, by name, for the report; never raises."""
        try:
            with self.factory() as session:
                return sorted(session.scalars(select(Position.pair)))
        except Exception:
            log.exception("could not list the open positions")
            return ["(open positions unknown: the database could not be read)"]

    # --- a halted engine with positions left open -----------------------------------------
    def _schedule_flatten_retry(self, command_id: int, delay: float | None = None) -> None:
        first = HALTED_FLATTEN_FIRST_SECONDS
        self._flatten_retry = FlattenRetry(
            command_id, time.monotonic() + (first if delay is None else delay), first
        )

    def _retry_flatten_if_due(self) -> None:
        """While a failed kill is in force and no worker runs, keep flattening with backoff:
        nothing else watches those positions. Success completes the kill (re-arm allowed)."""
        retry = self._flatten_retry
        if retry is None or self.worker is not None or time.monotonic() < retry.at:
            return
        with self.factory() as session:
            kill = kill_in_force(session)
        if kill is None or kill.id != retry.command_id or kill.status != "failed":
            self._flatten_retry = None  # re-armed, pressed again, or already completed
            return
        try:
            done, failed = self._flatten_once(self._own_trader(), retry.command_id)
        except Exception as exc:
            log.exception("kill switch #%d: retrying the flatten failed", retry.command_id)
            done, failed = [], [f"{type(exc).__name__}: {exc}"]
        if not failed:
            closed = "; ".join(line for line in done if line.startswith("closed ")) or "nothing"
            result = (
                f"{kill.result} | later the supervisor's retry closed: {closed}; "
                "engine halted until re-armed"
            )
            finish_command(self.factory, retry.command_id, True, result)
            update_state(self.factory, halt_reason=f"kill switch (command #{retry.command_id})")
            record_event(
                self.factory,
                "WARNING",
                "supervisor",
                "kill_switch",
                f"kill switch #{retry.command_id} completed by a retry: closed {closed}; "
                "the engine stays halted until re-armed",
            )
            log.warning("kill switch #%d completed by a retry", retry.command_id)
            self._flatten_retry = None
            return
        left = "; ".join(failed)
        message = (
            f"kill switch #{retry.command_id}: retry still could not close: {left}; "
            f"next try in {retry.delay:.0f} s (the engine stays halted)"
        )
        record_event(self.factory, "ERROR", "supervisor", "kill_switch", message)
        log.error(message, extra={"skip_events": True})
        update_state(
            self.factory,
            halt_reason=f"kill switch (command #{retry.command_id}) could not close: {left}",
        )
        retry.at = time.monotonic() + retry.delay
        retry.delay = min(retry.delay * 2, HALTED_FLATTEN_MAX_SECONDS)

    def _command_close_position(self, command_id: int, payload: dict) -> tuple[bool, str]:
        """A manual close with no worker running (stopped or halted): the supervisor's own
        trader closes it, through the risk gate like the worker does."""
        pair = payload.get("pair")
        if pair not in self.settings.market.pairs:
            return False, f"unknown pair {pair!r}"
        result = self._own_trader().close_position(pair, "manual", f"m{command_id}")
        return not result.endswith("no open position"), f"{result} (no worker ran: the supervisor)"
