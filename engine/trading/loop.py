"""The trading loop: each tick fetches every pair's new candles, decides on each, has
risk approve the orders, executes them, books the tick and learns from what resolved.
The steps live in their own modules; the Trader only composes them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from agents import LiveAgent, RegimeLimits, RuleAgent
from agents.auditor import AuditLimits
from agents.warmup import decision_warmup
from config import timeframe_seconds
from config.settings import Learning
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.store.db import as_utc, checkpoint, defer_checkpoints
from data.store.models import Decision
from engine.clock import Clock
from engine.trading import book, journal, manual
from engine.trading.account import Account, default_audit_limits
from engine.trading.approve import Approval, EntryRules, at_market
from engine.trading.batch import PairTick, TickBatch
from engine.trading.decide import Team
from engine.trading.execution import Execution
from engine.trading.faults import PairErrors, TickFaults
from engine.trading.fetch import Fetcher
from engine.trading.learn import Learner
from engine.trading.risk_records import ExitRetries
from engine.trading.stops import Stops
from engine.venues.broker import Broker
from engine.venues.errors import KeyRefused, PermanentError
from engine.venues.feed import Feed
from risk import RiskGate

log = logging.getLogger("volt.trader")


@dataclass
class TickReport:
    decisions: int = 0
    entries: int = 0
    exits: int = 0
    new_candles: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # pair -> why (expected faults)
    unexpected: list[str] = field(default_factory=list)  # pairs that hit a bug

    @property
    def succeeded(self) -> bool:
        """A tick that hit an unexpected error is not a success: the watchdog must see it."""
        return not self.unexpected


class Part:
    """A Trader attribute kept by one of its parts. A settable one (a test's spy, the kill
    switch's flaky broker, the worker's pause) changes what every step uses; the others are
    shared by reference between steps, so they are changed in place, never replaced."""

    def __init__(self, part: str, name: str | None = None, settable: bool = True) -> None:
        self.part, self.name, self.settable = part, name, settable

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, trader: object, owner: type | None = None):
        return self if trader is None else getattr(getattr(trader, self.part), self.name)

    def __set__(self, trader: object, value) -> None:
        if not self.settable:
            raise AttributeError(f"{self.name} is shared by the trader's steps: change it in place")
        setattr(getattr(trader, self.part), self.name, value)


class Trader:
    """The steps, composed; its attributes below are its parts' (see `Part`)."""

    factory = Part("account", settable=False)  # every step opened its sessions on it
    clock, feed = Part("account"), Part("account")
    broker, gate, marks = Part("account"), Part("account"), Part("account")
    entries_paused = Part("rules", "paused")
    entry_blocks = Part("rules", "blocks")  # laptop guards and the like, refreshed each tick
    stale_pairs = Part("rules", "stale", settable=False)
    weights = Part("learner", settable=False)
    base_weights = Part("learner", settable=False)

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        clock: Clock,
        feed: Feed,
        broker: Broker,
        gate: RiskGate,
        agents: list[RuleAgent],
        weights: dict[str, float],
        thresholds: dict[str, float],
        regime_limits: RegimeLimits,
        pairs: list[str],
        timeframe: str,
        history_candles: int,
        live_agents: list[LiveAgent] | None = None,
        learning: Learning | None = None,
        audit_limits: AuditLimits | None = None,
        breakeven_accuracy: float = 0.5,
        fill_at: str = "close",
        periods: IndicatorPeriods = DEFAULT_PERIODS,
    ) -> None:
        audit_limits = audit_limits or default_audit_limits()
        self.account = Account.of_store(
            factory, clock, feed, broker, gate, audit_limits=audit_limits
        )
        self.pairs, self.timeframe, self.history_candles = pairs, timeframe, history_candles
        self.fill_at = fill_at  # broker.fill_at: "next_open" prices orders at the forming open
        self.exchange = None  # the ccxt client behind feed and broker, if any
        candle = timedelta(seconds=timeframe_seconds(timeframe))
        self.rules = EntryRules()
        self.errors = PairErrors(factory)
        self.exit_retries = ExitRetries(factory, candle)
        self.fetcher = Fetcher(self.account, candle, history_candles, self.rules.stale)
        self.learner = Learner(
            factory,
            weights,
            learning or Learning(),
            breakeven_accuracy,
            candle,
            journal.sale_cost(gate.limits.fee_rate, gate.limits.slippage_rate),
        )
        self.team = Team(
            factory,
            agents,
            live_agents or [],
            self.learner.weights,
            thresholds,
            regime_limits,
            decision_warmup(agents, regime_limits, history_candles, periods),
            periods,
        )
        self.approval = Approval(self.account, self.rules, pairs)
        self.execution = Execution(self.account, self.learner, decided=set())
        self.stops = Stops(self.account, candle)
        self.batch = TickBatch(
            self.account,
            timeframe,
            self.approval,
            self.stops,
            self.execution,
            self.learner,
            self.exit_retries,
        )
        with factory() as session:
            for pair in pairs:
                last = session.scalar(
                    select(func.max(Decision.candle_ts)).where(Decision.pair == pair)
                )
                if last is not None:
                    self.account.last_candle[pair] = as_utc(last)

    # --- the loop body -------------------------------------------------------------------
    def tick(self) -> TickReport:
        """Fetch every pair, decide each from its candles, then book the tick: in one
        transaction every pair that sends no order, then each order sent and booked, then
        (see `TickBatch`) any pair that must be booked alone. One pair's fault never costs
        another's."""
        report, now = TickReport(), self.clock.now()
        faults = self.errors.tick(now, report)
        ticks = self._fetch(now, report, faults)  # fetch
        # Stops met are sent before any agent is asked: an exit never waits on a model.
        self._exit_stops([t for t in ticks if t.waiting is None], faults, now, report)
        ticks = [t for t in ticks if faults.went_through(t.pair)]
        self._decide([t for t in ticks if t.waiting is None], faults, now)  # decide
        ticks = [t for t in ticks if faults.went_through(t.pair)]
        batch = self.batch
        booked = batch.book_together(ticks, now, report) if ticks else None  # approve, book
        for order in booked.staged if booked is not None else ():  # execute, book
            with faults.isolate(order.item.pair):
                batch.send_staged(order, now, report)
        for item in batch.to_book_alone(ticks, booked):  # approve, execute, book: alone
            with faults.isolate(item.pair):
                batch.book_alone(item, now, report, stored=booked is not None)
        try:
            resolved = batch.close_tick(booked, now, report.new_candles)  # snapshot, journal, locks
        except KeyRefused:  # no balance, no equity snapshot: the tick goes on without one
            resolved = []
        self.learner.learn_from(resolved, now)  # learn
        faults.settle(self.pairs)
        for pair in self.pairs:
            self.fetcher.watch_staleness(pair, now)
        return report

    def _fetch(self, now: datetime, report: TickReport, faults: TickFaults) -> list[PairTick]:
        self.fetcher.feed_down = False
        # Read together, then met pair by pair in order: stops, exits and decisions go as
        # they did when each pair was read in its turn.
        reads = self.fetcher.read_all(self.pairs, now)
        ticks = []
        for pair in self.pairs:
            with faults.isolate(pair):
                new = self.fetcher.new_candles(pair, now, report, reads.get(pair))
                if new is not None:
                    # A refused exit waits for its retry; its candles stay unseen, so its
                    # stop is met again.
                    ticks.append(PairTick(new, waiting=self.exit_retries.deferred(pair, now)))
        return ticks

    def _exit_stops(
        self, ticks: list[PairTick], faults: TickFaults, now: datetime, report: TickReport
    ) -> None:
        """Each stop or take-profit the new candles met, sent and booked in the pair's own
        transaction before the tick's decisions (see `Stops.check`); the pair's decision is
        then made on the book without the position."""
        if not ticks:
            return
        with self.factory() as session:
            positions = book.open_positions(session)
        for item in ticks:
            position = positions.get(item.pair)
            if position is not None and self.stops.walk(position, item.fresh).hit:
                with faults.isolate(item.pair):
                    try:
                        self.stops.check(item.pair, item.fresh, now, report)
                    except PermanentError as refusal:  # a refused exit waits for its retry
                        self.exit_retries.refused(item.pair, now, str(refusal))
                        raise

    def _decide(self, ticks: list[PairTick], faults: TickFaults, now: datetime) -> None:
        """Each pair's decision, computed before any write; the live agents (the LLM) are
        asked for every pair at once, after the rule agents, within their own budget.
        Priced where its order fills (`at_market`) under next-open fills."""
        if not ticks:
            return
        positions = {}
        if self.team.live_agents:  # the position only goes into the live agents' brief
            with self.factory() as session:
                positions = book.open_positions(session)
        planned = []
        with self.team.live_votes_together() as asked:
            for item in ticks:
                with faults.isolate(item.pair):
                    if not self.execution.decided_before(item.pair, item.new.latest):
                        position = positions.get(item.pair)
                        item.plan = self.team.plan(item.pair, item.new.window, position)
                        planned.append(item)
        with_live = asked.votes({item.pair: item.plan for item in planned if item.plan})
        for item in planned:
            with faults.isolate(item.pair):
                if item.plan is not None:
                    item.plan = with_live.get(item.pair, item.plan)
                    if self.fill_at == "next_open":
                        item.plan = at_market(item.plan, self.account, now)

    # --- between ticks ----------------------------------------------------------------
    def defer_checkpoints(self) -> None:
        """The live loop's stores copy their write-ahead log only in `between_ticks`."""
        for engine in self.account.stores():
            defer_checkpoints(engine)

    def between_ticks(self) -> None:
        """Upkeep the loop does while it waits for the next candle, so no tick carries it:
        the write-ahead logs are copied into the stores. A failure is logged and tried
        again after the next tick; the log only grows meanwhile."""
        for engine in self.account.stores():
            try:
                checkpoint(engine)
            except Exception:
                log.exception("could not checkpoint the store's write-ahead log")

    def while_agents_wait(self, stop: threading.Event, meanwhile: Callable[[], None]) -> None:
        """While the tick waits for the live agents' votes (the LLM), `stop` set ends the
        wait at once and `meanwhile` (the worker's commands) runs every few tenths of a
        second: neither a stop nor a pause waits on a model."""
        self.team.stop_waiting, self.team.meanwhile = stop, meanwhile

    def llm_status(self) -> dict | None:
        return self.team.llm_status()

    # --- orders asked for from outside the loop (see `manual`) ---------------------------
    def close_position(self, pair: str, reason: str, tag: str) -> str:
        return manual.close_position(self.account, pair, reason, tag)

    def flatten(self, reason: str, tag: str) -> tuple[list[str], list[str]]:
        return manual.flatten(self.account, reason, tag)

    def cancel_open_orders(self) -> str:
        return manual.cancel_open_orders(self.account)

    def current_price(self, pair: str, now: datetime) -> float:
        return manual.current_price(self.account, pair, now)
