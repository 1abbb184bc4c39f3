"""The kill switch: halt, stop the worker, flatten with the supervisor's own broker. It fails
closed: a halt that cannot be written is retried, a flatten that leaves something open keeps
the engine halted and is retried, and re-arming waits for a kill that closed everything."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from data.store.commands import finish_command, kill_in_force, requeue_interrupted_kill
from data.store.events import record_event
from data.store.state import read_state, update_state
from engine.runtime.commands import Outcome
from engine.runtime.supervisor_account import SupervisorAccount
from engine.runtime.worker_process import WorkerProcess

log = logging.getLogger("volt.supervisor")
KILL_STOP_TIMEOUT_SECONDS = 5.0
HALT_RETRY_SECONDS = 0.2  # a halt that could not be written: retried, doubling up to
HALT_RETRY_MAX_SECONDS = 5.0
HALTED_FLATTEN_FIRST_SECONDS = 5.0  # a failed kill: the flatten is retried, doubling up to
HALTED_FLATTEN_MAX_SECONDS = 300.0


@dataclass
class FlattenRetry:
    """A failed kill's flatten, to try again at `at` (monotonic), then after `delay`."""

    command_id: int
    at: float
    delay: float


class KillSwitch:
    def __init__(
        self,
        factory: sessionmaker[Session],
        account: SupervisorAccount,
        workers: WorkerProcess,
        stop_worker: Callable[[float], str],
    ) -> None:
        self.factory = factory
        self.account = account
        self.workers = workers
        self.stop_worker = stop_worker  # the supervisor's ordered stop, which records it
        self.retry: FlattenRetry | None = None

    def resume(self) -> None:
        """At start: a kill in force outlives the supervisor: halted whatever its status; one
        a dead supervisor left unfinished runs again; one that failed is retried."""
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
            self._schedule_retry(kill.id, delay=0.0)

    def press(self, command_id: int, _payload: dict | None = None) -> Outcome:
        """The `kill` command."""
        self.retry = None  # this press supersedes any retry of an earlier kill
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
        stopped = self._stop_worker(command_id)
        if not halted:
            _until_committed(
                lambda: update_state(self.factory, **halt),
                f"kill switch #{command_id}: writing the halt",
            )
        closed, failed, attempts = self.account.flatten(command_id)
        again = "already halted: retried what was left; " if already else ""
        summary = f"{again}{stopped}; " + "; ".join(closed)
        if failed:
            left = "; ".join(failed)
            self._schedule_retry(command_id)
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

    def rearm(self, on_rearmed: Callable[[], None]) -> Outcome:
        """The `rearm` command's rules; `on_rearmed` runs once the engine may trade again."""
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
        on_rearmed()
        self.retry = None
        return True, "re-armed: trading resumes"

    def _stop_worker(self, command_id: int) -> str:
        """Stop the worker whatever else fails: the process goes even if the database won't."""
        try:
            return self.stop_worker(KILL_STOP_TIMEOUT_SECONDS)
        except Exception as exc:
            log.exception(
                "kill switch #%d: stopping the worker in order failed; killing it",
                command_id,
                extra={"kind": "kill_switch"},
            )
            self.workers.kill_now()
            return f"worker stopped ({type(exc).__name__} on the way: {exc})"

    # --- a halted engine with positions left open -----------------------------------------
    def _schedule_retry(self, command_id: int, delay: float | None = None) -> None:
        first = HALTED_FLATTEN_FIRST_SECONDS
        self.retry = FlattenRetry(
            command_id, time.monotonic() + (first if delay is None else delay), first
        )

    def retry_flatten_if_due(self) -> None:
        """While a failed kill is in force and no worker runs, keep flattening with backoff:
        nothing else watches those positions. Success completes the kill (re-arm allowed)."""
        retry = self.retry
        if retry is None or self.workers.process is not None or time.monotonic() < retry.at:
            return
        with self.factory() as session:
            kill = kill_in_force(session)
        if kill is None or kill.id != retry.command_id or kill.status != "failed":
            self.retry = None  # re-armed, pressed again, or already completed
            return
        try:
            done, failed = self.account.flatten_once(retry.command_id)
        except Exception as exc:
            log.exception("kill switch #%d: retrying the flatten failed", retry.command_id)
            done, failed = [], [f"{type(exc).__name__}: {exc}"]
        if not failed:
            self._complete(retry.command_id, kill.result, done)
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

    def _complete(self, command_id: int, first_result: str, done: list[str]) -> None:
        """A retry closed what the kill could not: the kill is done, the engine stays halted."""
        closed = "; ".join(line for line in done if line.startswith("closed ")) or "nothing"
        result = (
            f"{first_result} | later the supervisor's retry closed: {closed}; "
            "engine halted until re-armed"
        )
        finish_command(self.factory, command_id, True, result)
        update_state(self.factory, halt_reason=f"kill switch (command #{command_id})")
        record_event(
            self.factory,
            "WARNING",
            "supervisor",
            "kill_switch",
            f"kill switch #{command_id} completed by a retry: closed {closed}; "
            "the engine stays halted until re-armed",
        )
        log.warning("kill switch #%d completed by a retry", command_id)
        self.retry = None


def _until_committed(write: Callable[[], object], what: str) -> None:
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
        time.sleep(delay)  # not a stop event: a shutdown must not cut the kill short
        delay = min(delay * 2, HALT_RETRY_MAX_SECONDS)
        attempt += 1
