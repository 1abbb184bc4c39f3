"""One engine worker: runs the trading loop until told to stop, then stops in order."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from data.store.commands import fail_interrupted
from data.store.db import as_utc, utcnow
from data.store.events import flush_events
from data.store.faults import DISK_FULL_SENTENCE, FULL, StoreFault, disk_full, store_fault
from data.store.state import read_state, save_exchange_status, update_state
from engine.runtime.commands import Handler, Outcome, answer_commands
from engine.runtime.guards import LaptopGuard
from engine.runtime.home import stop_on_signals
from engine.trading.holdings import foreign_holdings
from engine.trading.reconcile import reconcile
from engine.venues.errors import KeyRefused
from engine.wiring import build_clock, build_trader

if TYPE_CHECKING:
    from engine.venues.ccxt.exchange import KeyRefusal

log = logging.getLogger("volt.worker")
# While the exchange refuses the API key, a cheap signed call (the balance) this often tells
# when it works again; the tick's own calls may tell sooner.
KEY_PROBE_SECONDS = 60.0
KEY_REFUSED_SENTENCE = "new entries paused until a signed call succeeds"


class Worker:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        *,
        speed: float | None = None,
        run_for: float | None = None,
        supervisor_pid: int | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.run_for = run_for
        self.supervisor_pid = supervisor_pid
        self.stop_requested = threading.Event()
        speed = speed if speed is not None else settings.clock.speed
        state = read_state(factory)
        # A restarted clock resumes where the last one stopped, never earlier; a real market's
        # clock is the wall clock, whatever a simulated run left behind.
        self.clock = build_clock(settings, speed, as_utc(state.market_time))
        self.trader = build_trader(settings, factory, self.clock)
        self.trader.defer_checkpoints()  # done between ticks, in the loop's idle time
        self.trader.entries_paused = state.entries_paused
        self.trader.rules.key_refused = self.key_block
        # A stop or a command never waits on the LLM: see `Trader.while_agents_wait`.
        self.trader.while_agents_wait(self.stop_requested, self.handle_commands)
        self.guard = LaptopGuard(settings)
        self.reconcile_due = True
        self.reconcile_error = ""  # why the last reconciliation failed; entries wait for it
        self.disk_is_full = False  # entries wait for space; stops keep going as far as they can
        self.store_fault = ""  # the store fault last said, until a tick is written again
        self.next_key_probe = 0.0  # time.monotonic() of the next probe of a refused key
        self.commands: dict[str, Handler] = {
            "pause": self.pause_entries,
            "resume": self.resume_entries,
            "close_position": self.close_position,
        }

    def install_signal_handlers(self) -> None:
        stop_on_signals(self.stop_requested, log, "stopping after the current tick")

    _heap_settled = False

    def run(self) -> int:
        settings = self.settings
        started = time.monotonic()
        tick_every = timedelta(seconds=settings.engine.tick_seconds)
        for command_id in fail_interrupted(self.factory, "worker"):
            log.warning(
                "command #%d was interrupted by a worker restart",
                command_id,
                extra={"kind": "command_interrupted"},
            )
        self.reconcile_book()
        if self.trader.exchange is None:  # no stale exchange panel from an earlier run
            save_exchange_status(self.factory, exchange="", mode=settings.mode)
        self.publish_exchange_status()
        update_state(
            self.factory,
            worker_pid=os.getpid(),
            worker_started_at=utcnow(),
            **self._status(),
            mode=settings.mode,
            feed=self.trader.feed.name,
            clock_speed=self.clock.speed,
            tick_seconds=settings.engine.tick_seconds,
        )
        log.info(
            "worker started: %s on the %s feed, pairs %s, clock x%g",
            settings.mode,
            self.trader.feed.name,
            ", ".join(settings.market.pairs),
            self.clock.speed,
        )
        next_tick = self.clock.now()
        while not self.stop_requested.is_set() and self._may_go_on():
            self.step()
            if self.run_for is not None and time.monotonic() - started >= self.run_for:
                log.info("ran for %.0f s as asked; stopping", self.run_for)
                break
            next_tick = max(next_tick + tick_every, self.clock.now() - tick_every)
            self.clock.wait_until(next_tick, self.stop_requested)
        return self.shutdown()

    def step(self) -> None:
        """One pass of the loop: reconcile if due, the commands, a tick, then the upkeep. A
        known condition (a store fault, a refused key) is said once, not a traceback a tick."""
        try:
            self.probe_key()
            if self.reconcile_due and self.key_refusal() is None:
                self.reconcile_book()
            self.handle_commands()
            self.tick_once()
            if not self._heap_settled:
                # What the first tick loaded lives as long as the worker: moved out of
                # the collector's view, a full collection no longer stalls a tick.
                gc.freeze()
                self._heap_settled = True
        except KeyRefused:
            self.reconcile_due = True  # the exchange said it, once; the state shows it
        except Exception as exc:
            # The heartbeat is not touched, so a worker that keeps failing looks hung.
            fault = store_fault(exc)
            if fault is None:
                log.exception("engine loop step failed")
            else:
                self._note_store_fault(fault)  # said once, not a traceback every tick
            # An exit sent but not booked is found again by reconciliation.
            self.reconcile_due = True
        self.publish_exchange_status()
        self.trader.between_ticks()

    def key_refusal(self) -> KeyRefusal | None:
        """The exchange's refusal of the API key, or None."""
        exchange = self.trader.exchange
        return None if exchange is None else exchange.key_refusal

    def key_block(self) -> str | None:
        """Why entries wait while the exchange refuses the API key."""
        if self.key_refusal() is None:
            return None
        return f"{self.trader.exchange.label} refused the API key: {KEY_REFUSED_SENTENCE}"

    def probe_key(self) -> None:
        """While the key is refused, ask for the balance now and then: the exchange client
        clears the refusal (one event) when a signed call succeeds."""
        if self.key_refusal() is None or time.monotonic() < self.next_key_probe:
            return
        self.next_key_probe = time.monotonic() + KEY_PROBE_SECONDS
        exchange = self.trader.exchange
        try:  # the exchange itself, not the broker's cached balance
            exchange.call("API key check (balance)", exchange.api.fetch_balance)
        except KeyRefused:
            pass  # still refused: the state says so
        except Exception as exc:  # an exchange that does not answer tells nothing of the key
            log.info("checking the API key: %s", exc)

    def _status(self) -> dict:
        """The state's status and the refused key it names (empty when the key works)."""
        refusal = self.key_refusal()
        if refusal is not None:
            status = "key refused"
        else:
            status = "paused" if self.trader.entries_paused else "running"
        return {
            "status": status,
            "key_refused": refusal.sentence if refusal else "",
            "key_refused_at": refusal.at if refusal else None,
        }

    def reconcile_book(self) -> None:
        """Bring the book in line with the broker; after any failure, before trading on."""
        try:
            findings = reconcile(self.trader)
            for finding in findings:
                log.warning("reconciliation: %s", finding, extra={"kind": "reconciliation"})
            if findings:
                # What was adopted is kept even if this worker is killed next; waited for a
                # quarter of a tick at most, far inside the hang limit (two ticks).
                tick_wall = self.settings.engine.tick_seconds / max(self.clock.speed, 1.0)
                flush_events(min(1.0, tick_wall / 4))
            self.reconcile_due = False
            self.reconcile_error = ""
        except KeyRefused:  # said once by the exchange; tried again once the key works
            self.reconcile_due = True
            self.reconcile_error = "the API key is refused"
        except Exception as exc:
            log.exception(
                "reconciliation with the %s account failed; trying again next tick; until "
                "then no new entries, stops and exits keep working",
                self.trader.broker.name,
            )
            self.reconcile_due = True
            # Unknown orders or fills: trading on could double a position, so only exits.
            self.reconcile_error = str(exc) or type(exc).__name__

    def publish_exchange_status(self) -> None:
        """What the exchange answered lately, for the Control page (the DB is the only way)."""
        exchange = self.trader.exchange
        if exchange is None:
            return
        try:
            monitor, balances, foreign = exchange.monitor, {}, None
            try:
                if exchange.key_refusal is None:  # else refused: `probe_key` asks now and then
                    balances = self.trader.broker.balances()
                    foreign = foreign_holdings(self.trader.account)  # shown apart, not counted
            except Exception as exc:  # already an event where it matters; keep the rest
                log.info("balances for the Control page: %s", exc)
            save_exchange_status(
                self.factory,
                exchange=exchange.label,
                mode=self.settings.mode,
                reachable=monitor.reachable,
                last_ok_at=monitor.last_ok_at,
                last_error=monitor.last_error,
                last_error_at=monitor.last_error_at,
                calls=list(monitor.calls),
                balances=balances,
                balances_from=self.trader.broker.name,
                foreign=foreign,
            )
        except Exception:
            log.exception("could not publish the exchange status")

    def _may_go_on(self) -> bool:
        if self.supervisor_pid is not None and os.getppid() != self.supervisor_pid:
            log.error("the supervisor is gone; stopping so no worker trades unsupervised")
            return False
        try:
            state = read_state(self.factory)
        except Exception:
            log.exception("could not read the engine state; going on with this tick")
            return True
        if state.halted:
            log.warning("engine halted (%s): this worker stops", state.halt_reason)
            return False
        return True

    def tick_once(self) -> None:
        if disk_full(self.factory):
            self._note_disk(full=True)
        self.trader.entry_blocks = self._entry_blocks()
        report = self.trader.tick()
        if report.unexpected or report.skipped:
            self.reconcile_due = True  # an order may have filled without being recorded
        if not report.succeeded:
            return  # no heartbeat: a tick that hit a bug is not a successful tick
        blocks = [*filter(None, [self.key_block()]), *self.trader.entry_blocks]
        blocks += [f"{pair}: stale market data" for pair in sorted(self.trader.stale_pairs)]
        update_state(
            self.factory,
            heartbeat_at=utcnow(),
            market_time=self.clock.now(),
            entry_blocks="; ".join(blocks),
            **self._status(),
            llm_status=self.trader.llm_status(),
        )
        self.store_fault = ""
        if self.disk_is_full and not disk_full(self.factory):
            self._note_disk(full=False)  # the tick's rows and the heartbeat were written
        if report.entries or report.exits:
            log.info(
                "tick: %d decisions, %d entries, %d exits",
                report.decisions,
                report.entries,
                report.exits,
            )

    def _entry_blocks(self) -> list[str]:
        """Why new entries wait this tick: the laptop's guards, a reconciliation pending."""
        blocks = self.guard.entry_blocks()
        if self.disk_is_full:
            blocks.append(DISK_FULL_SENTENCE)
        if self.reconcile_error:
            blocks.append(f"reconciliation with the exchange pending: {self.reconcile_error}")
        return blocks

    def _note_store_fault(self, fault: StoreFault) -> None:
        """A full disk pauses entries; a lock is waited out; a read-only or corrupt store
        ends this worker (the supervisor then halts, naming it) instead of a log flood."""
        if fault.kind == FULL:
            self._note_disk(full=True)
            return
        if fault.sentence == self.store_fault:
            return
        self.store_fault = fault.sentence
        if fault.passes_by_itself:
            log.warning("%s; trying again next tick", fault.sentence, extra={"kind": fault.kind})
            return
        log.error("%s; this worker stops", fault.sentence, extra={"kind": fault.kind})
        self.stop_requested.set()

    def _note_disk(self, full: bool) -> None:
        """New entries pause on a full disk and resume by themselves once it has room: one
        event each way (the events writer keeps them until the store takes them)."""
        if full == self.disk_is_full:
            return
        self.disk_is_full = full
        if full:
            log.warning(DISK_FULL_SENTENCE, extra={"kind": "disk_full"})
        else:
            log.warning("disk space is back: new entries resumed", extra={"kind": "disk_full"})

    def handle_commands(self) -> None:
        """Answer the pending commands the worker takes (pause, resume, a manual close)."""
        answer_commands(self.factory, "worker", self.commands, on_failure=self._reconcile_next)

    def _reconcile_next(self) -> None:
        self.reconcile_due = True  # a command that failed half-way may have sent an order

    def pause_entries(self, _command_id: int = 0, _payload: dict | None = None) -> Outcome:
        """The `pause` command: stops and exits keep working."""
        self.trader.entries_paused = True
        update_state(self.factory, entries_paused=True, **self._status())
        return True, "new entries paused; stops and exits keep working"

    def resume_entries(self, _command_id: int = 0, _payload: dict | None = None) -> Outcome:
        """The `resume` command."""
        self.trader.entries_paused = False
        update_state(self.factory, entries_paused=False, **self._status())
        return True, "entries resumed"

    def close_position(self, command_id: int, payload: dict) -> Outcome:
        """The `close_position` command, through the risk gate like any exit."""
        pair = payload.get("pair")
        if pair not in self.settings.market.pairs:
            return False, f"unknown pair {pair!r}"
        result = self.trader.close_position(pair, "manual", f"m{command_id}")
        return not result.endswith("no open position"), result

    def shutdown(self) -> int:
        """Ordered stop: no new entries, cancel open orders, then exit."""
        self.trader.entries_paused = True
        try:
            log.info("shutdown: %s", self.trader.cancel_open_orders())
        except Exception:
            log.exception("cancelling open orders at shutdown failed")
        try:
            update_state(self.factory, status="stopped", worker_pid=None, key_refused="")
        except Exception as exc:  # a store that failed the loop may fail this too
            log.warning("could not record the stop: %s", store_fault(exc) or exc)
        log.info("worker stopped")
        return 0
