"""Dead and hung workers: an exit is told by its code or signal, a hang by the heartbeat (the
last successful tick) growing older than a tick may take."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from data.store.db import as_utc, utcnow
from data.store.faults import DISK_FULL_SENTENCE, disk_full, store_fault
from data.store.state import read_state
from engine.runtime.home import logs_dir
from engine.runtime.worker_process import WorkerProcess

log = logging.getLogger("volt.supervisor")
FIRST_TICK_GRACE_SECONDS = 60.0
WATCHDOG_SECONDS = 0.25
STDERR_FILE = "worker.stderr.log"


def agent_time_budget(settings: Settings) -> float:
    """Wall seconds one tick may spend waiting on agents that ask over the network: the
    LLM's one budget for all pairs (asked at once), and one bounded fetch of the Fear &
    Greed index."""
    agents = settings.agents
    budget = 0.0
    if agents.weights.get("llm", 0) > 0:
        budget += min(agents.llm.tick_budget_seconds, agents.llm.timeout_seconds)
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


@dataclass(frozen=True)
class WorkerExit:
    """A worker that ended without being asked to: `hang` when the watchdog killed it."""

    pid: int
    why: str
    hang: bool

    @property
    def kind(self) -> str:
        return "hang" if self.hang else "worker_died"


class Watchdog:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        workers: WorkerProcess,
        speed: float,
        stop_requested: threading.Event,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.workers = workers
        self.speed = speed
        self.stop_requested = stop_requested
        self._hang_reasons: dict[int, str] = {}
        self._disk_was_full = False
        self._disk_back_at = None  # when the disk last had room again: a tick is due from then

    def start(self) -> None:
        threading.Thread(target=self._watch_heartbeat, name="watchdog", daemon=True).start()

    def reap(self) -> WorkerExit | None:
        """Main loop: the worker that exited since the last look, unless it was asked to."""
        with self.workers.lock:
            process = self.workers.process
            if process is None or process.poll() is None:
                return None
            self.workers.process = None
            hang = self._hang_reasons.pop(process.pid, None)
        if self.workers.stopping:
            return None
        if hang:
            return WorkerExit(process.pid, hang, hang=True)
        why = f"worker {process.pid} {describe_exit(process.returncode)}"
        return WorkerExit(process.pid, why, hang=False)

    def worker_stderr(self) -> str:
        """What the dead worker wrote to stderr: faulthandler's dump after a fatal signal."""
        try:
            with open(logs_dir() / STDERR_FILE, "rb") as stderr:
                stderr.seek(self.workers.stderr_offset)
                return stderr.read()[-20_000:].decode(errors="replace")
        except OSError:
            return ""

    def hang_limit(self) -> float:
        """Seconds without a successful tick before a worker counts as hung. A tick's compute
        time does not shrink with clock speed, hence the floor; the live agents may use their
        time budget on top."""
        engine = self.settings.engine
        return max(
            engine.hang_intervals * engine.tick_seconds / self.speed, engine.hang_min_seconds
        ) + agent_time_budget(self.settings)

    def _watch_heartbeat(self) -> None:
        """Own thread: it only reads the heartbeat (a read never waits in WAL mode) and kills,
        so neither a busy main loop nor a frozen worker holding the write lock can stall it."""
        said = ""
        while not self.stop_requested.wait(WATCHDOG_SECONDS):
            try:
                self.check_heartbeat()
                said = ""
            except Exception as exc:
                fault = store_fault(exc)
                if fault is None:
                    log.exception("watchdog check failed")
                elif fault.sentence != said:  # the main loop says what it means; once here
                    log.warning("watchdog cannot read the heartbeat: %s", fault.sentence)
                said = fault.sentence if fault else ""

    def _waits_for_disk(self) -> bool:
        """A worker cannot write its heartbeat on a full disk: that is no hang, and a new
        worker could not start either. It is left to keep its stops working, and once the
        disk has room again it has a whole hang limit from then to tick."""
        full = disk_full(self.factory)
        if full and not self._disk_was_full:
            log.warning(
                "%s; the worker's heartbeat waits for disk space (not a hang)",
                DISK_FULL_SENTENCE,
                extra={"kind": "disk_full"},
            )
        back = self._disk_was_full and not full
        if back:
            self._disk_back_at = utcnow()
        self._disk_was_full = full
        return full or back

    def check_heartbeat(self) -> None:
        """Kill a worker whose last successful tick is too old; `reap` then reports the hang."""
        with self.workers.lock:
            process, started = self.workers.process, self.workers.started_at
        if process is None or self.workers.stopping:
            return
        limit = self.hang_limit()
        heartbeat = as_utc(read_state(self.factory).heartbeat_at)
        if heartbeat is None or heartbeat < started:
            # Until its first tick, a worker gets a grace period for imports and warm-up.
            age = (utcnow() - started).total_seconds()
            allowed = limit + FIRST_TICK_GRACE_SECONDS
        else:
            since = max(heartbeat, self._disk_back_at or heartbeat)
            age = (utcnow() - since).total_seconds()
            allowed = limit
        if age <= allowed or self._waits_for_disk():
            return
        with self.workers.lock:
            current = self.workers.process is process and not self.workers.stopping
            if current and process.poll() is None:
                self._hang_reasons[process.pid] = (
                    f"worker {process.pid} hung: no successful tick for {age:.1f} s "
                    f"(limit {allowed:.1f} s); killed it"
                )
                process.kill()
