"""`python -m engine soak`: run the supervised engine on a fast clock while injecting faults,
then check that nothing was lost, doubled or mis-counted.

It always runs in a fresh runtime directory of its own, never the trader's database.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psutil
from sqlalchemy import func, select

from config import load_config
from data.store.db import as_utc, make_engine, make_session_factory
from data.store.models import Decision, Event, Order, Position, Trade
from data.store.state import read_state
from engine.runtime.control import pid_alive
from engine.tools.faults import FAULTS_ENV
from engine.venues.paper import PaperBalance, PaperOrder, make_exchange_factory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FAULT_KINDS = (
    "sigkill",
    "sigstop",
    "feed_outage",
    "db_lock",
    "crash_after_submit",
    "broker_timeout",
)
TICK_SECONDS = 300.0  # market seconds: one tick per 5m candle
HANG_INTERVALS = 2  # a hang is caught within ~2 ticks ...
# ... yet a lock held for seconds (half a tick at most, so that it and the wait for the
# next tick stay inside two) is waited out, not taken for one
LOCK_HOLD_SECONDS = 3.0


@dataclass
class SoakResult:
    market_hours: float = 0.0
    decisions: int = 0
    trades: int = 0
    restarts: int = 0
    hangs_detected: int = 0
    orders_lost: int = 0
    orders_duplicated: int = 0
    cash_error: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    wall_seconds: float = 0.0
    restart_seconds: list[float] = field(default_factory=list)
    hang_ticks: list[float] = field(default_factory=list)  # from the freeze to the kill
    hang_ticks_since_beat: list[float] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        def spread(values: list[float], unit: str) -> str:
            if not values:
                return "n/a"
            return f"median {statistics.median(values):.2f}{unit} max {max(values):.2f}{unit}"

        return (
            f"soak: {self.market_hours:.1f} market h in {self.wall_seconds:.0f} s wall, "
            f"{self.decisions} decisions, {self.trades} trades, {self.restarts} restarts, "
            f"{self.hangs_detected} hangs detected, {self.orders_lost} orders lost, "
            f"{self.orders_duplicated} orders duplicated, "
            f"cash reconciliation error {self.cash_error:.2f}, "
            f"worker RSS {self.rss_start_mb:.1f} MB -> {self.rss_end_mb:.1f} MB, "
            f"restart after SIGKILL {spread(self.restart_seconds, ' s')}, "
            f"hang detected {spread(self.hang_ticks, ' ticks')} after the freeze "
            f"({spread(self.hang_ticks_since_beat, ' ticks')} after the last good tick), "
            f"faults {json.dumps(self.injected, sort_keys=True)}"
        )

    def failures(self) -> list[str]:
        failed = list(self.problems)
        if self.orders_lost:
            failed.append(f"{self.orders_lost} orders lost")
        if self.orders_duplicated:
            failed.append(f"{self.orders_duplicated} orders duplicated")
        if round(self.cash_error, 2) != 0:
            failed.append(f"cash reconciliation error {self.cash_error:.2f}")
        return failed


class Soak:
    def __init__(self, hours: float, speed: float, faults: bool, seed: int, home: Path) -> None:
        self.hours, self.speed, self.faults, self.seed, self.home = hours, speed, faults, seed, home
        self.rng = random.Random(seed)
        self.tick_wall = TICK_SECONDS / speed
        self.result = SoakResult(injected={kind: 0 for kind in FAULT_KINDS} if faults else {})
        self.config = home / "soak.toml"
        self.faults_file = home / "faults.json"
        self.env = {**os.environ, "VOLT_HOME": str(home)}
        for private in ("VOLT_DB_URL", "VOLT_PAPER_DB_URL", "VOLT_CONFIG"):
            self.env.pop(private, None)  # never the trader's own database or paper account

    # --- set-up ----------------------------------------------------------------------------
    def write_files(self) -> None:
        self.config.write_text(
            f"[clock]\nspeed = {self.speed}\n"
            f"[engine]\ntick_seconds = {TICK_SECONDS}\nhang_intervals = {HANG_INTERVALS}\n"
            "hang_min_seconds = 0.5\nrestart_backoff_seconds = 0.5\n"
            "restart_backoff_max_seconds = 2.0\ncrash_loop_restarts = 1000\n"
            "metrics_interval_seconds = 2.0\n"
            # A busy strategy, so every order fault finds orders to hit.
            "[agents.weights]\ntechnical = 1.0\nregime = 0.0\nsentiment = 0.0\n"
        )
        self.write_plan()
        if self.faults:
            self.env[FAULTS_ENV] = str(self.faults_file)

    def write_plan(self, **extra) -> None:
        plan = {"seed": self.seed}
        if self.faults:
            plan |= {"feed_error_rate": 0.02, "broker_timeout_rate": 0.4}
        self.faults_file.write_text(json.dumps(plan | extra))

    # --- running ---------------------------------------------------------------------------
    def run(self) -> SoakResult:
        began = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.write_files()
        self.factory = make_session_factory(make_engine(f"sqlite:///{self.home / 'volt.db'}"))
        log = open(self.home / "soak-supervisor.out", "w")  # noqa: SIM115
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "engine", "supervise", "--config", str(self.config)],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        self.deadline = time.monotonic() + max(120.0, 4 * self.hours * 3600 / self.speed)
        try:
            self.wait_for_ticking(other_than=None)
            start = as_utc(read_state(self.factory).market_time)
            end = start + timedelta(hours=self.hours)
            schedule = self.schedule(start)
            rss_at = start + timedelta(hours=min(1.0, self.hours / 2))
            # Until the end and every scheduled fault: a fault that waits for an order
            # can push the ones after it past the end.
            while (now := self.market_time()) < end or schedule:
                if not self.result.rss_start_mb and now >= rss_at:
                    self.result.rss_start_mb = self.worker_rss()
                if schedule and now >= schedule[0][0]:
                    self.inject(schedule.pop(0)[1])
                self.check_deadline("the market clock to reach the end")
                time.sleep(0.1)
            self.result.rss_end_mb = self.worker_rss()
            self.result.market_hours = (self.market_time() - start).total_seconds() / 3600
        finally:
            supervisor.send_signal(signal.SIGTERM)
            try:
                supervisor.wait(60)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                self.result.problems.append("the supervisor did not stop within 60 s")
            log.close()
        if supervisor.returncode != 0:
            self.result.problems.append(f"the supervisor exited with {supervisor.returncode}")
        self.audit()
        self.result.wall_seconds = time.monotonic() - began
        return self.result

    def schedule(self, start) -> list:
        if not self.faults:
            return []
        rounds = max(1, round(self.hours / 4))
        kinds = list(FAULT_KINDS) * rounds
        offsets = sorted(self.rng.uniform(0.1, 0.85) * self.hours for _ in kinds)
        self.rng.shuffle(kinds)
        return [(start + timedelta(hours=o), k) for o, k in zip(offsets, kinds, strict=True)]

    def market_time(self):
        return as_utc(read_state(self.factory).market_time)

    def check_deadline(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"soak: timed out waiting for {what}")

    def wait_for_ticking(self, other_than: int | None) -> int:
        while True:
            state = read_state(self.factory)
            pid, beat, started = state.worker_pid, state.heartbeat_at, state.worker_started_at
            if pid and pid != other_than and beat and started and beat >= started:
                return pid
            if state.halted:
                raise RuntimeError(f"soak: the engine halted: {state.halt_reason}")
            self.check_deadline("a ticking worker")
            time.sleep(0.05)

    def worker_rss(self) -> float:
        try:
            return psutil.Process(read_state(self.factory).worker_pid).memory_info().rss / 2**20
        except (psutil.Error, TypeError):
            return 0.0

    # --- faults ----------------------------------------------------------------------------
    def inject(self, kind: str) -> None:
        getattr(self, f"inject_{kind}")()
        if kind != "broker_timeout":  # those are counted from the engine's own events
            self.result.injected[kind] += 1

    def inject_sigkill(self) -> None:
        pid = self.wait_for_ticking(other_than=None)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.wait_for_ticking(other_than=pid)
        self.result.restart_seconds.append(time.monotonic() - killed)

    def inject_sigstop(self) -> None:
        pid = self.wait_for_ticking(other_than=None)
        os.kill(pid, signal.SIGSTOP)
        frozen = time.time()
        last_beat = as_utc(read_state(self.factory).heartbeat_at).timestamp()
        while pid_alive(pid):
            self.check_deadline("the supervisor to notice the hung worker")
            time.sleep(0.02)
        self.result.hang_ticks.append((time.time() - frozen) / self.tick_wall)
        self.result.hang_ticks_since_beat.append((time.time() - last_beat) / self.tick_wall)
        self.wait_for_ticking(other_than=pid)

    def inject_feed_outage(self) -> None:
        # Long enough for no new candle in two timeframes: entries pause, exits go on.
        self.write_plan(feed_down_until=time.time() + 4 * self.tick_wall)
        time.sleep(5 * self.tick_wall)
        self.write_plan()

    def inject_db_lock(self) -> None:
        def hold() -> None:
            lock = sqlite3.connect(self.home / "volt.db", timeout=30, isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")
            time.sleep(min(LOCK_HOLD_SECONDS, self.tick_wall / 2))
            lock.execute("ROLLBACK")
            lock.close()

        holder = threading.Thread(target=hold)
        holder.start()
        holder.join()

    def inject_crash_after_submit(self) -> None:
        pid = self.wait_for_ticking(other_than=None)
        self.write_plan(crash_after_submit=f"crash-{self.rng.random():.12f}")
        self.wait_for_ticking(other_than=pid)  # it died on its next order and came back
        self.write_plan()

    def inject_broker_timeout(self) -> None:
        """At least one for sure; random ones (broker_timeout_rate) come on top."""
        before = self.lookups()
        self.write_plan(timeout_after_submit=f"timeout-{self.rng.random():.12f}")
        while self.lookups() == before:  # the next order's answer is lost, then looked up
            self.check_deadline("a broker timeout to be handled")
            time.sleep(0.1)
        self.write_plan()

    def lookups(self) -> int:
        with self.factory() as session:
            return session.scalar(select(func.count(Event.id)).where(Event.kind == "order_unknown"))

    # --- the audit -------------------------------------------------------------------------
    def audit(self) -> None:
        result = self.result
        exchange = make_exchange_factory(f"sqlite:///{self.home / 'paper-exchange.db'}")
        with exchange() as session:
            at_exchange = list(session.scalars(select(PaperOrder).order_by(PaperOrder.id)))
            balances = dict(
                session.execute(select(PaperBalance.currency, PaperBalance.total)).all()
            )
        with self.factory() as session:
            recorded = set(session.scalars(select(Order.client_order_id)))
            result.decisions = session.scalar(select(func.count(Decision.id)))
            result.trades = session.scalar(select(func.count(Trade.id)))
            realised = session.scalar(select(func.coalesce(func.sum(Trade.pnl), 0.0)))
            positions = session.scalars(select(Position)).all()
            result.hangs_detected = session.scalar(
                select(func.count(Event.id)).where(Event.kind == "hang")
            )
            findings = list(
                session.scalars(select(Event.message).where(Event.kind == "reconciliation"))
            )
        if self.faults:  # the engine's own lookups after a lost answer
            result.injected["broker_timeout"] = self.lookups()
        result.restarts = read_state(self.factory).restarts
        result.orders_lost = sum(o.client_order_id not in recorded for o in at_exchange)
        result.orders_duplicated = count_doubled_orders(at_exchange)
        broker = load_config(self.config).broker
        capital, quote = broker.starting_capital, broker.quote_currency
        flows = sum(
            (-1 if o.side == "buy" else 1) * o.amount * o.price - o.fee for o in at_exchange
        )
        open_cost = sum(p.amount * p.entry_price + p.entry_fee for p in positions)
        cash = balances.get(quote, 0.0)
        result.cash_error = max(
            abs(cash - (capital + flows)), abs(cash - (capital + realised - open_cost))
        )
        held = {p.pair.split("/")[0]: p.amount for p in positions}
        for currency, amount in balances.items():
            if currency != quote and abs(amount - held.get(currency, 0.0)) > 1e-9 * max(1, amount):
                result.problems.append(
                    f"the account holds {amount:.8g} {currency}, the book "
                    f"{held.get(currency, 0.0):.8g}"
                )
        result.problems += [f"reconciliation: {f}" for f in findings if "check the account" in f]
        if self.faults:
            missed = [kind for kind, count in result.injected.items() if count == 0]
            if missed:
                result.problems.append(f"faults never injected: {', '.join(missed)}")
            if not any("recorded volt-" in f for f in findings):
                result.problems.append("no fill was recovered by reconciliation after a crash")
            frozen = result.injected.get("sigstop", 0)
            if result.hangs_detected > frozen:
                result.problems.append(
                    f"{result.hangs_detected} hangs detected for {frozen} frozen workers: a held "
                    "lock or a slow tick was taken for a hang"
                )


def count_doubled_orders(orders: list[PaperOrder]) -> int:
    """A buy while already long, or a sell while flat, is an order placed twice."""
    holding: dict[str, bool] = {}
    doubled = 0
    for order in orders:
        long_now = holding.get(order.pair, False)
        if (order.side == "buy") == long_now:
            doubled += 1
        holding[order.pair] = order.side == "buy"
    return doubled


def run_soak(hours: float, speed: float, faults: bool, seed: int, home: str | None) -> int:
    directory = Path(home) if home else Path(tempfile.mkdtemp(prefix="volt-soak-"))
    result = Soak(hours, speed, faults, seed, directory).run()
    print(result.line())
    failures = result.failures()
    if failures:
        print(f"soak FAILED: {'; '.join(failures)} (files in {directory})", file=sys.stderr)
        return 1
    print(f"soak passed (files in {directory})")
    return 0
