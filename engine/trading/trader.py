"""The trading loop: feed → indicators → agents → consensus → risk → broker → database."""

from __future__ import annotations

import dataclasses
import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, lazyload, sessionmaker

from agents import LiveAgent, MarketBrief, RegimeLimits, RuleAgent, weigh_votes
from agents.auditor import AuditLimits, audit_fill
from agents.base import agent_votes, vote_from_frame
from agents.learning import adapt_weights
from agents.regime import RegimeAgent, regime_columns, regime_name
from config import timeframe_seconds
from config.settings import Learning
from data.market.indicators import candle_arrays, indicator_arrays
from data.market.rows import LAST_ROW
from data.stats.scorecard import call_records
from data.store.agent_calls import recent_calls
from data.store.db import as_utc, checkpoint, defer_checkpoints, transaction
from data.store.models import (
    AgentWeight,
    Decision,
    Fill,
    JournalEntry,
    Order,
    Position,
    Trade,
    VoteRow,
)
from data.types import Action, PortfolioView
from engine.clock import Clock
from engine.trading import book, journal
from engine.trading.execution import place_order, record_fill
from engine.trading.risk_records import ExitRetries, record_rejection, risk_context, sync_locks
from engine.trading.tick_records import DecisionPlan, candle_rows, insert_decisions, store_candles
from engine.venues.binance.client_ids import client_order_id
from engine.venues.broker import Broker, BrokerFill
from engine.venues.errors import (
    FeedUnavailable,
    OrderNotPlaced,
    OrderStatusUnknown,
    PermanentError,
    TemporaryError,
)
from engine.venues.feed import Feed
from engine.venues.retry import with_retries
from risk import ApprovedOrder, OrderIntent, RiskContext, RiskGate, RiskRejection
from risk.stops import StopWalk, walk_stops

log = logging.getLogger("volt.trader")
STALE_AFTER_CANDLES = 2  # no new candle for this many timeframes pauses entries
MAX_CATCH_UP_CANDLES = 20_000  # after an outage, check stops over at most this many
FEED_ATTEMPTS = 4
INDICATOR_SNAPSHOT = ("rsi", "macd", "macd_signal", "bb_lower", "bb_middle", "bb_upper", "atr")
ORDER_SENT = "order sent; its fill is being booked"
SEND, ALONE = object(), object()  # how `Trader._sort` says a tick sends an order


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


def _decision(session: Session, decision_id: int) -> Decision | None:
    """The decision row alone: its votes (eagerly loaded by default) are not needed here."""
    return session.get(Decision, decision_id, options=[lazyload(Decision.votes)])


def refused_outcome(rejection: RiskRejection) -> str:
    return f"rejected by risk: {rejection}"


class TickRisk:
    """The gate's view of the book inside the tick's transaction, read once when first
    needed: an entry it refuses sends nothing, so it is booked with the quiet pairs."""

    def __init__(
        self, trader: Trader, session: Session, now: datetime, positions: dict[str, Position]
    ) -> None:
        self.trader, self.session, self.now = trader, session, now
        self.positions = positions  # read in this transaction
        self.refusals: dict[str, str] = {}  # pair -> why the gate refused its entry
        self._view: PortfolioView | None = None
        self._context: RiskContext | None = None

    def view(self) -> PortfolioView:
        if self._view is None:
            trader = self.trader
            self._view = book.portfolio_view(
                self.session, trader.broker, trader.marks, self.positions
            )
        return self._view

    def context(self) -> RiskContext:
        if self._context is None:
            trader = self.trader
            self._context = risk_context(
                self.session, self.view(), trader.marks, self.now, trader._day_starts
            )
        return self._context

    def refused_entry(self, plan: DecisionPlan) -> str | None:
        """The outcome of a buy the gate refuses (kept for the record), or None when it
        would pass: then the entry is made, and judged again, in its own transaction."""
        try:
            self.trader.gate.check_entry(plan_intent(plan, "buy"), self.view(), self.context())
        except RiskRejection as rejection:
            log.info("risk rejected %s: %s", plan.pair, rejection)
            self.refusals[plan.pair] = str(rejection)
            return refused_outcome(rejection)
        return None


@dataclass
class PairTick:
    """One pair's part of a tick: its new candles and, once planned, its decision."""

    pair: str
    candles: pd.DataFrame  # the decision window
    fresh: pd.DataFrame  # candles not seen before
    latest: datetime
    waiting: str | None = None  # why a refused exit waits for its retry
    plan: DecisionPlan | None = None
    held: bool | None = None  # whether the tick's shared transaction found a position
    trailed: bool = False  # its trailing stop's move is in the shared transaction


@dataclass(frozen=True)
class StagedOrder:
    """A decision stored, with its order approved, in the tick's shared transaction; sent
    once that transaction has committed."""

    item: PairTick
    decision_id: int
    approved: ApprovedOrder


@dataclass
class Booked:
    """What the tick's shared transaction wrote."""

    quiet: list[str] = field(default_factory=list)  # pairs fully booked
    staged: list[StagedOrder] = field(default_factory=list)  # orders to send, in pair order
    deferred: list[str] = field(default_factory=list)  # pairs booked alone afterwards
    resolved: list[JournalEntry] = field(default_factory=list)  # journal outcomes resolved
    journal_open: bool | None = None  # whether any journal entry is still followed


def plan_intent(plan: DecisionPlan, side: str, decision_id: int | None = None) -> OrderIntent:
    """The order a decision sends: its client order id comes from its pair and candle, so
    the same decision always sends the same order."""
    return OrderIntent(
        plan.pair,
        side,
        plan.price,
        client_order_id(plan.pair, plan.candle_ts, side[0]),
        "signal",
        atr=plan.atr if side == "buy" else math.nan,
        decision_id=decision_id,
        regime=plan.regime,
    )


class Trader:
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
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.feed = feed
        self.broker = broker
        self.gate = gate
        self.agents = agents
        self.live_agents = live_agents or []
        self.base_weights = dict(weights)  # as configured; learning adapts from these
        self.weights = dict(weights)
        self.learning = learning or Learning()
        # The win rate at which the stop and take-profit distances break even.
        self.breakeven_accuracy = breakeven_accuracy
        self.audit_limits = audit_limits or AuditLimits(max_slippage=0.002, size_tolerance=0.001)
        self.thresholds = thresholds
        self.regime_limits = regime_limits
        self.pairs = pairs
        self.timeframe = timeframe
        self.candle_length = timedelta(seconds=timeframe_seconds(timeframe))
        self.history_candles = history_candles
        self.exchange = None  # the ccxt client behind feed and broker, if any
        self.entries_paused = False
        self.entry_blocks: list[str] = []  # laptop guards and the like, refreshed each tick
        self.stale_pairs: set[str] = set()
        self.marks: dict[str, float] = {}
        self._last_candle: dict[str, datetime] = {}
        self._pair_errors: dict[str, str] = {}
        self._feed_down = False
        self.exit_retries = ExitRetries(factory, self.candle_length)
        self._decided_pairs: set[str] = set()  # pairs decided by this process
        self._journal_open: bool | None = None  # any journal entry still followed (None: ask)
        self._day_starts: dict[datetime, float] = {}  # today's starting equity, once known
        self._stops_walked: dict[str, pd.Timestamp] = {}  # pair -> last candle trailed
        with factory() as session:
            for pair in pairs:
                last = session.scalar(
                    select(func.max(Decision.candle_ts)).where(Decision.pair == pair)
                )
                if last is not None:
                    self._last_candle[pair] = as_utc(last)
        self._load_weights()

    # --- the loop body -------------------------------------------------------------------
    def tick(self) -> TickReport:
        """Fetch every pair, decide each from its candles, then write the tick in one
        transaction. A pair whose tick sends an order (a stop met, an entry, a signal
        exit) is booked afterwards in its own transactions, one per step, as is every
        pair when the shared transaction fails: one pair's fault never costs another's."""
        report = TickReport()
        now = self.clock.now()
        self._feed_down = False
        faulted: set[str] = set()
        ticks: list[PairTick] = []
        for pair in self.pairs:
            with self._pair_faults(pair, now, report, faulted):
                item = self._fetch(pair, now, report)
                if item is not None:
                    ticks.append(item)
        self._plan_decisions([t for t in ticks if t.waiting is None], now, report, faulted)
        ticks = [t for t in ticks if t.pair not in faulted]
        booked = self._book_together(ticks, now, report) if ticks else None
        for order in booked.staged if booked is not None else ():
            with self._pair_faults(order.item.pair, now, report, faulted):
                self._send_staged(order, now, report)
        for item in ticks:
            if booked is not None and item.pair not in booked.deferred:
                continue
            with self._pair_faults(item.pair, now, report, faulted):
                self._book_alone(item, now, report, stored=booked is not None)
        if booked is None or booked.deferred or booked.staged:
            resolved = self._book_tail(now, report.new_candles)
        else:
            resolved = booked.resolved  # stored with the shared transaction
        if resolved:
            self._journal_resolved(resolved, now)
        for pair in self.pairs:
            if pair not in faulted:
                self._pair_errors.pop(pair, None)
            self._watch_staleness(pair, now)
        return report

    @contextmanager
    def _pair_faults(self, pair: str, now: datetime, report: TickReport, faulted: set[str]):
        """A fault in one pair is reported and the other pairs go on."""
        try:
            yield
        except OrderNotPlaced as exc:
            report.skipped[pair] = str(exc)
            self._note_pair_error(pair, exc)
            self._note_order_not_placed(exc, now)
        except FeedUnavailable as exc:
            # Once the feed failed after full retries, the other pairs try only once
            # this tick: backoff piled up across pairs would look like a hang.
            self._feed_down = True
            report.skipped[pair] = str(exc)
            self._note_pair_error(pair, exc)
        except (TemporaryError, PermanentError) as exc:
            report.skipped[pair] = str(exc)
            self._note_pair_error(pair, exc)
        except Exception:
            log.exception("%s: unexpected error in this tick", pair)
            report.unexpected.append(pair)
        else:
            return
        faulted.add(pair)

    def _fetch(self, pair: str, now: datetime, report: TickReport) -> PairTick | None:
        """The pair's new candles, or None when there are none."""
        last_seen = self._last_candle.get(pair)
        limit = self.history_candles
        if last_seen is not None:
            # After an outage, fetch every candle since the last one seen, so no stop is missed.
            missed = math.ceil((now - last_seen) / self.candle_length) + 1
            limit = min(max(limit, missed), MAX_CATCH_UP_CANDLES)
        try:
            candles = with_retries(
                lambda: self.feed.candles(pair, now, limit),
                f"{pair} candles from {self.feed.name}",
                attempts=1 if self._feed_down else FEED_ATTEMPTS,
            )
        except TemporaryError as exc:
            raise FeedUnavailable(str(exc)) from exc
        if candles.empty:
            return None
        self.marks[pair] = float(candle_arrays(candles)["close"][-1])
        fresh = candles
        if last_seen is not None:
            fresh = candles.iloc[candles.index.searchsorted(last_seen, side="right") :]
        if fresh.empty:
            return None
        report.new_candles = True
        return PairTick(
            pair,
            candles
            if len(candles) <= self.history_candles
            else candles.iloc[-self.history_candles :],
            fresh,
            candles.index[-1].to_pydatetime(),
            # A refused exit waits for its retry; the candles stay unseen so its stop is met again.
            waiting=self.exit_retries.deferred(pair, now),
        )

    def _plan_decisions(
        self, ticks: list[PairTick], now: datetime, report: TickReport, faulted: set[str]
    ) -> None:
        """Each pair's decision, computed before any write (the LLM included)."""
        if not ticks:
            return
        positions = {}
        if self.live_agents:  # the position only goes into the live agents' brief
            with self.factory() as session:
                positions = book.open_positions(session)
        for item in ticks:
            with self._pair_faults(item.pair, now, report, faulted):
                position = positions.get(item.pair)
                if position is not None and self._walk_stops(position, item.fresh).hit:
                    position = None  # the stop closes it before this decision is acted on
                item.plan = self._plan(item, position)

    def _book_together(self, ticks: list[PairTick], now: datetime, report: TickReport):
        """One transaction for every pair that sends no order this tick; returns what was
        booked, or None when the transaction failed (then every pair is booked alone)."""
        booked = Booked()
        try:
            with transaction(self.factory) as session:
                rows = [r for t in ticks for r in candle_rows(t.pair, self.timeframe, t.fresh)]
                store_candles(session, rows)
                positions = book.open_positions(session)
                risk = TickRisk(self, session, now, positions)
                decided, refused, staged = [], [], []
                for item in ticks:
                    # Once a pair sends an order, the book the gate would judge later entries
                    # on is no longer the one read here: those are judged after it, alone.
                    position = positions.get(item.pair)
                    item.held = position is not None
                    settled = not (booked.deferred or staged)
                    sort = self._sort(item, position, risk if settled else None)
                    if sort is SEND and not booked.deferred:
                        staged.append(item)
                    elif sort is SEND or sort is ALONE:
                        booked.deferred.append(item.pair)
                    else:
                        booked.quiet.append(item.pair)
                        if item.plan is not None:
                            decided.append((item.plan, sort))
                            refused.append(risk.refusals.pop(item.pair, None))
                sending = [(item.plan, ORDER_SENT) for item in staged]
                ids = insert_decisions(session, decided + sending, now)
                quiet_ids, staged_ids = ids[: len(decided)], ids[len(decided) :]
                for decision_id, (plan, _), refusal in zip(
                    quiet_ids, decided, refused, strict=True
                ):
                    if refusal is not None:
                        record_rejection(
                            session, now, plan.pair, "buy", "risk", refusal, decision_id
                        )
                for item, decision_id in zip(staged, staged_ids, strict=True):
                    approved = self._approve_staged(session, risk, item, decision_id)
                    booked.staged.append(StagedOrder(item, decision_id, approved))
                if not (booked.deferred or booked.staged):
                    view, context = risk.view(), risk.context()
                    book.snapshot_equity(session, self.broker, self.marks, now, view)
                    self._follow_journal_in(session, now, booked)
                    self._review_protections_in(session, now, view, context)
        except Exception:
            log.exception("could not write the tick in one transaction; booking each pair alone")
            return None
        self._committed(booked)
        for item in ticks:
            if item.trailed:
                self._stops_walked[item.pair] = item.fresh.index[-1]
            if item.pair in booked.quiet:
                report.decisions += item.plan is not None
                self._settled(item)
        return booked

    def _sort(
        self, item: PairTick, position: Position | None, screen: TickRisk | None
    ) -> str | object:
        """Where a pair's tick goes: its outcome when it sends no order (the trailing stop's
        move applied; "" when the candle was decided before a restart; an entry the gate
        refuses included), SEND when its decision sends an order that can be approved in
        the shared transaction, ALONE when it must be booked alone (a stop met, an exit
        waiting for its retry, an entry that can only be judged after an earlier order)."""
        if item.waiting is not None:
            return ALONE
        walk = None
        if position is not None:
            walk = self._walk_stops(position, item.fresh)
            if walk.hit:
                return ALONE
        outcome = ""
        if item.plan is not None:
            action = item.plan.consensus.action
            outcome = self._quiet_outcome(action, position is not None, item.pair)
            if outcome is None and action == Action.BUY:
                if screen is None:
                    return ALONE
                outcome = screen.refused_entry(item.plan)
        if walk is not None:
            # Stored with this transaction; the candles are not walked again after it.
            position.stop_loss, position.peak_price = walk.stop_loss, walk.peak_price
            item.trailed = True
        return SEND if outcome is None else outcome

    def _approve_staged(
        self, session: Session, risk: TickRisk, item: PairTick, decision_id: int
    ) -> ApprovedOrder:
        """Risk's approval of a staged decision's order, in the shared transaction (which
        read the kill switch): an exit always passes; an entry passed the screen above."""
        if item.plan.consensus.action == Action.SELL:
            return self._approve_exit(session, plan_intent(item.plan, "sell", decision_id))
        intent = plan_intent(item.plan, "buy", decision_id)
        return self.gate.approve(intent, risk.view(), risk.context())

    def _send_staged(self, order: StagedOrder, now: datetime, report: TickReport) -> None:
        """Send a staged decision's order, book its fill, and settle the pair's tick."""
        report.decisions += 1
        try:
            self._send_decided(order.decision_id, order.approved, now, report)
        except PermanentError as refusal:  # a refused exit: an entry's refusal is booked
            self.exit_retries.refused(order.item.pair, now, str(refusal))
            raise
        self._settled(order.item)

    def _book_alone(self, item: PairTick, now: datetime, report: TickReport, stored: bool) -> None:
        """A pair's tick step by step, each in its own transaction: candles, stops, decision."""
        if not stored:
            with transaction(self.factory) as session:
                store_candles(session, candle_rows(item.pair, self.timeframe, item.fresh))
        if item.waiting is not None:
            raise PermanentError(item.waiting)
        try:
            if item.held is not False:  # no other pair's order opens this one
                self._check_stops(item.pair, item.fresh, now, report)
            if item.plan is not None:
                self._record_and_act(item.plan, now, report)
        except PermanentError as refusal:  # entries catch theirs: this is a refused exit
            self.exit_retries.refused(item.pair, now, str(refusal))
            raise
        self._settled(item)

    def _settled(self, item: PairTick) -> None:
        """The pair's tick went through: its candles are seen and its exit is not waiting."""
        self.exit_retries.succeeded(item.pair)
        self._last_candle[item.pair] = item.latest
        self._decided_pairs.add(item.pair)

    def _book_tail(self, now: datetime, new_candles: bool) -> list[JournalEntry]:
        """After pairs booked alone, on a new candle: the equity snapshot, the journal and
        the protections' review, in one transaction of their own. Without a new candle,
        only the review, which never costs the tick."""
        if not new_candles:
            self._review_protections(now)
            return []
        booked = Booked()
        with transaction(self.factory) as session:
            view = book.portfolio_view(session, self.broker, self.marks)
            book.snapshot_equity(session, self.broker, self.marks, now, view)
            self._follow_journal_in(session, now, booked)
            try:
                with session.begin_nested():
                    self._review_protections_in(session, now, view)
            except Exception:
                log.exception("could not store the state of the risk protections")
        return self._committed(booked)

    def _review_protections(self, now: datetime) -> None:
        try:
            with transaction(self.factory) as session:
                self._review_protections_in(session, now)
        except Exception:
            log.exception("could not store the state of the risk protections")

    def _review_protections_in(
        self,
        session: Session,
        now: datetime,
        view: PortfolioView | None = None,
        context: RiskContext | None = None,
    ) -> None:
        """Store which protections block entries now, and lift the ones that cleared, so
        locks outlive a restart and the dashboard shows each one. The gate itself judges
        afresh at every entry; a failure here never opens anything. No savepoint (it costs
        a tenth of the tick): a database error fails the shared transaction, and the tick
        is then booked pair by pair, this review in a transaction of its own."""
        try:
            view = view or book.portfolio_view(session, self.broker, self.marks)
            context = context or risk_context(session, view, self.marks, now, self._day_starts)
            blocks = {}
            for pair in self.pairs:
                for block in self.gate.blocks(replace(context, pair=pair)):
                    blocks.setdefault((block.protection, block.pair), block)
            sync_locks(session, blocks.values(), now)
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("could not store the state of the risk protections")

    def _note_order_not_placed(self, exc: OrderNotPlaced, now: datetime) -> None:
        # Its own transaction: the decision's was rolled back, so the candle is decided
        # again next tick; these rows are what lets the rejection breaker stop that loop.
        try:
            with transaction(self.factory) as session:
                record_rejection(session, now, exc.pair, "buy", "broker", f"not placed: {exc}")
        except Exception:
            log.exception("could not record the order %s the broker never took", exc.pair)

    def _note_pair_error(self, pair: str, exc: Exception) -> None:
        # One event when a fault starts or changes, not one every tick it lasts.
        message = f"{pair} skipped this tick: {type(exc).__name__}: {exc}"
        if self._pair_errors.get(pair) != str(exc):
            log.warning(message, extra={"kind": "feed_error"})
        else:
            log.info(message)
        self._pair_errors[pair] = str(exc)

    def _watch_staleness(self, pair: str, now: datetime) -> None:
        last = self._last_candle.get(pair)
        if last is None:
            return
        waited = now - (last + self.candle_length)
        stale = waited > STALE_AFTER_CANDLES * self.candle_length
        if stale and pair not in self.stale_pairs:
            self.stale_pairs.add(pair)
            log.warning(
                "no new %s candle for %.0f min: new entries paused for it; exits keep working",
                pair,
                waited.total_seconds() / 60,
                extra={"kind": "stale_data"},
            )
        elif not stale and pair in self.stale_pairs:
            self.stale_pairs.discard(pair)
            log.info(
                "%s candles are fresh again: entries resume", pair, extra={"kind": "stale_data"}
            )

    def _walk_stops(self, position: Position, fresh: pd.DataFrame) -> StopWalk:
        """The position's stops over the new candles that closed after its entry."""
        entered = as_utc(position.entry_ts)
        prices = candle_arrays(fresh)
        candles = zip(
            fresh.index,
            prices["open"].tolist(),
            prices["high"].tolist(),
            prices["low"].tolist(),
            strict=True,
        )
        # A candle whose trail is already stored is not walked again: the stop it raised
        # must not be met by the candles that raised it.
        walked = self._stops_walked.get(position.pair)
        return walk_stops(
            position.stop_loss,
            position.take_profit,
            position.entry_price,
            position.peak_price,
            position.trail_distance,
            (
                (ts, o, h, lo)
                for ts, o, h, lo in candles
                if ts + self.candle_length > entered and (walked is None or ts > walked)
            ),
        )

    def _check_stops(
        self, pair: str, fresh: pd.DataFrame, now: datetime, report: TickReport
    ) -> None:
        with transaction(self.factory) as session:
            position = session.get(Position, pair)
            if position is None:
                return
            walk = self._walk_stops(position, fresh)
            if walk.hit is None:
                position.stop_loss, position.peak_price = walk.stop_loss, walk.peak_price
                self._stops_walked[pair] = fresh.index[-1]
                return
            # The trail up to the hit is stored with the exit's booking, not before: should
            # the exit fail, the same candles are walked again from the same stop, meet it on
            # the same candle and resend under the same client order id (never a second sell).
            ts, price, reason = walk.hit
            intent = OrderIntent(pair, "sell", price, client_order_id(pair, ts, reason[:2]), reason)
            approved = self._approve_exit(session, intent)
        self._send_exit(approved, now, trail=walk)
        report.exits += 1

    def _plan(self, item: PairTick, position: Position | None) -> DecisionPlan | None:
        """The team's decision on the pair's latest candle; None when it was decided before
        a restart (a candle is never acted on twice)."""
        pair, candles = item.pair, item.candles
        candle_ts = candles.index[-1].to_pydatetime()
        if pair not in self._decided_pairs:  # after that, _last_candle keeps candles new
            with self.factory() as session:
                found = session.execute(
                    select(Decision.id, Decision.outcome).where(
                        Decision.pair == pair, Decision.candle_ts == candle_ts
                    )
                ).first()
            # A decision left with its order in flight (a crash, or a take-back that failed)
            # is taken back and decided again: its order keeps its client id, so a fill the
            # broker kept is found and booked with it, never sent twice.
            if found is not None and not (
                found.outcome == ORDER_SENT and self._withdraw(found.id, pair)
            ):
                return None
        # Only the last row of each column is read: LAST_ROW computes no other.
        columns = indicator_arrays(candles, LAST_ROW)
        frame = cache(lambda: pd.DataFrame(indicator_arrays(candles), index=candles.index))
        vote_columns = [agent_votes(agent, columns, frame, LAST_ROW) for agent in self.agents]
        votes = [
            vote_from_frame(agent, rows, len(candles))
            for agent, rows in zip(self.agents, vote_columns, strict=True)
        ]
        # The regime sets how sure the team must be, whatever weight the regime agent has.
        regime = regime_name(self._regime_code(columns, vote_columns)) or "normal"
        if self.live_agents:
            brief = self._market_brief(pair, columns, candle_ts, regime, position)
            votes += [agent.vote(brief) for agent in self.live_agents]
        return DecisionPlan(
            pair,
            candle_ts,
            float(columns["close"][-1]),
            float(columns["atr"][-1]),
            regime,
            weigh_votes(votes, self.weights, self.thresholds[regime]),
        )

    def _record_and_act(self, plan: DecisionPlan, now: datetime, report: TickReport) -> str:
        """Store the decision and what risk made of it; an order it sends goes to the broker
        outside any transaction (a kill pressed meanwhile is never kept waiting), and its
        fill is booked in a transaction of its own. Returns the decision's outcome."""
        with transaction(self.factory) as session:
            [decision_id] = insert_decisions(session, [(plan, "")], now)
            decision = _decision(session, decision_id)
            report.decisions += 1
            step = self._act(session, decision_id, plan, now)
            if isinstance(step, str):
                decision.outcome = step
                return step
            decision.outcome = ORDER_SENT  # what a crash before the fill's record leaves
        return self._send_decided(decision_id, step, now, report)

    def _send_decided(
        self, decision_id: int, approved: ApprovedOrder, now: datetime, report: TickReport
    ) -> str:
        """Send a stored decision's order and book its fill; on any failure the decision is
        taken back (see `_withdraw`) before the error goes on."""
        try:
            return self._send_order(decision_id, approved, now, report)
        except BaseException:
            self._withdraw(decision_id, approved.pair)
            raise

    def _send_order(
        self, decision_id: int, approved: ApprovedOrder, now: datetime, report: TickReport
    ) -> str:
        if approved.side == "sell":
            outcome = "sold: closed the position on the signal"
            self._send_exit(approved, now, decision_id, outcome)
            report.exits += 1
            return outcome
        return self._send_entry(decision_id, approved, now, report)

    def _send_entry(
        self, decision_id: int, approved: ApprovedOrder, now: datetime, report: TickReport
    ) -> str:
        pair = approved.pair
        try:
            fill, audit = self._send(approved, now)
        except PermanentError as refusal:
            log.warning(
                "%s: the broker refused the entry: %s",
                pair,
                refusal,
                extra={"kind": "order_refused"},
            )
            outcome = f"refused by the broker: {refusal}"
            with transaction(self.factory) as session:
                record_rejection(session, now, pair, "buy", "broker", str(refusal), decision_id)
                _decision(session, decision_id).outcome = outcome
            return outcome
        except OrderStatusUnknown as unknown:
            report.skipped[pair] = str(unknown)  # the worker reconciles before the next entry
            outcome = f"order status unknown — reconciliation will settle it ({unknown})"
            with transaction(self.factory) as session:
                _decision(session, decision_id).outcome = outcome
            return outcome
        except TemporaryError as exc:
            raise OrderNotPlaced(pair, str(exc)) from exc
        with transaction(self.factory) as session:
            self._note_audit(session, decision_id, audit)
            order, fill_row = record_fill(session, fill, "signal", decision_id)
            book.record_entry(
                session,
                order,
                fill_row,
                approved.stop_loss,
                approved.take_profit,
                trail_distance=approved.trail_distance,
            )
            outcome = f"bought {fill.amount:.6g} at {fill.price:.6g} (fee {fill.fee:.4f})"
            self._executed(session, decision_id, outcome, order, fill_row)
        report.entries += 1
        return outcome

    def _executed(
        self, session: Session, decision_id: int, outcome: str, order: Order, fill: Fill
    ) -> None:
        decision = _decision(session, decision_id)
        decision.executed, decision.outcome = True, outcome
        journal.open_entry(session, decision, order, fill)
        self._journal_open = True

    def _withdraw(self, decision_id: int, pair: str) -> bool:
        """Take back a decision whose order failed or whose fill could not be booked, as a
        rollback would have: while its candle is the latest it is decided again, under the
        same client order id, so a fill the broker kept is found and booked, never doubled;
        after that, reconciliation books such a fill."""
        try:
            with transaction(self.factory) as session:
                session.execute(delete(VoteRow).where(VoteRow.decision_id == decision_id))
                session.execute(delete(Decision).where(Decision.id == decision_id))
        except Exception:
            # Left as ORDER_SENT: the next tick looks its candle up first and tries again.
            log.exception("could not take back decision #%d after its order failed", decision_id)
            self._decided_pairs.discard(pair)
            return False
        return True

    def _regime_code(self, columns: dict[str, np.ndarray], vote_columns: list) -> float:
        """The regime agent's reading when it reads as the trader does (not classified twice)."""
        for agent, rows in zip(self.agents, vote_columns, strict=True):
            if (
                isinstance(agent, RegimeAgent)
                and agent.window is None
                and agent.limits == self.regime_limits
            ):
                return float(np.asarray(rows["regime_code"])[-1])
        codes = regime_columns(columns, self.regime_limits, rows=LAST_ROW)["regime_code"]
        return float(codes[-1])

    def _quiet_outcome(self, action: Action, holding: bool, pair: str) -> str | None:
        """The outcome of a decision that sends no order, or None when it sends one."""
        if action == Action.HOLD:
            return "hold"
        if action == Action.SELL:
            return None if holding else "no position to sell"
        if holding:
            return "already holding"
        if self.entries_paused:
            return "entries paused"
        if self.entry_blocks:
            return f"entries paused: {'; '.join(self.entry_blocks)}"
        if pair in self.stale_pairs:
            return "entries paused: stale market data"
        return None

    def _act(
        self, session: Session, decision_id: int, plan: DecisionPlan, now: datetime
    ) -> str | ApprovedOrder:
        """The decision's outcome when it sends nothing, or the order risk approved."""
        pair, action = plan.pair, plan.consensus.action
        quiet = self._quiet_outcome(action, session.get(Position, pair) is not None, pair)
        if quiet is not None:
            return quiet
        if action == Action.SELL:
            return self._approve_exit(session, plan_intent(plan, "sell", decision_id))
        intent = plan_intent(plan, "buy", decision_id)
        view = book.portfolio_view(session, self.broker, self.marks)
        try:
            # The context is read in this transaction: a kill pressed before it stops the entry.
            context = risk_context(session, view, self.marks, now, self._day_starts)
            return self.gate.approve(intent, view, context)
        except RiskRejection as rejection:
            log.info("risk rejected %s: %s", pair, rejection)
            record_rejection(session, now, pair, "buy", "risk", str(rejection), decision_id)
            return refused_outcome(rejection)

    def _approve_exit(self, session: Session, intent: OrderIntent) -> ApprovedOrder:
        intent = book.exit_intent(session, intent)  # the rest of a partly sold position
        return self.gate.approve(intent, book.portfolio_view(session, self.broker, self.marks))

    def _send_exit(
        self,
        approved: ApprovedOrder,
        now: datetime,
        decision_id: int | None = None,
        outcome: str = "",
        trail: StopWalk | None = None,
    ) -> Trade:
        """Send an approved exit (no transaction held meanwhile), then book its fill, with
        the decision that sent it or the stop walk that met its stop, in one transaction."""
        fill, audit = self._send(approved, now)
        with transaction(self.factory) as session:
            if trail is not None and (held := session.get(Position, approved.pair)):
                held.stop_loss, held.peak_price = trail.stop_loss, trail.peak_price
            self._note_audit(session, decision_id, audit)
            # A duplicate here is a fill the broker kept from an attempt whose record failed:
            # recording it now is exactly right (record_fill is idempotent).
            order, fill_row = record_fill(session, fill, approved.reason, decision_id)
            dust = self.broker.dust(fill.pair, fill.price)
            trade = book.record_exit(session, order, fill_row, approved.reason, dust)
            if decision_id is not None:
                self._executed(session, decision_id, outcome, order, fill_row)
            return trade

    def _send(self, approved: ApprovedOrder, now: datetime) -> tuple[BrokerFill, str]:
        """Place an approved order; the auditor then checks the fill against the approval.
        Returns the fill and the auditor's findings ("" when there are none)."""
        fill = place_order(self.broker, approved, now)
        violations = audit_fill(
            approved.side,
            approved.price,
            fill.sent_amount or approved.amount,  # the exchange's lot size is not a violation
            fill.price,
            fill.amount if fill.filled is None else fill.filled,  # before a fee in the coin
            self.audit_limits,
        )
        if not violations:
            return fill, ""
        text = "; ".join(violations)
        log.warning(
            "auditor: %s %s %s: %s",
            approved.pair,
            approved.side,
            approved.client_order_id,
            text,
            extra={"kind": "audit"},
        )
        return fill, text

    def _note_audit(self, session: Session, decision_id: int | None, audit: str) -> None:
        decision = _decision(session, decision_id) if audit and decision_id else None
        if decision is not None:
            decision.audit = "; ".join(filter(None, [decision.audit, audit]))

    # --- the journal and the team's weights ---------------------------------------------
    def _follow_journal_in(self, session: Session, now: datetime, booked: Booked) -> None:
        """Follow the journal's open entries, behind a savepoint: a failure rolls back only
        the journal's part (logged) and is tried again next candle; never costs the tick.
        What it found is kept on `booked`, and believed only once the transaction commits."""
        if self._journal_open is False:
            return  # nothing is followed until a decision opens an entry
        learning = self.learning
        try:
            with session.begin_nested():
                booked.resolved, booked.journal_open = journal.follow(
                    session,
                    now,
                    self.marks,
                    self.candle_length,
                    timedelta(hours=learning.outcome_horizon_hours),
                    learning.sell_horizon_candles,
                )
        except Exception:
            booked.resolved = []
            log.exception("could not follow the decision journal; trying again next candle")

    def _committed(self, booked: Booked) -> list[JournalEntry]:
        """What the journal found, now that it is stored."""
        if booked.journal_open is not None:
            self._journal_open = booked.journal_open
        return booked.resolved

    def _journal_resolved(self, resolved: list[JournalEntry], now: datetime) -> None:
        """Report the outcomes resolved (once stored), and learn from them."""
        for entry in resolved:
            log.info(
                "journal: %s %s decision #%d resolved %s (P&L %+.2f)",
                entry.pair,
                entry.action,
                entry.decision_id,
                entry.outcome,
                entry.pnl,
                extra={"kind": "journal"},
            )
        if not self.learning.freeze:
            try:
                self._adapt_weights(now)
            except Exception:
                log.exception("could not adapt the agents' weights; trying again next outcome")

    def _adapt_weights(self, now: datetime) -> None:
        agents, engine = sorted(self.base_weights), self.factory.kw["bind"]
        records = call_records(recent_calls(engine, agents, self.learning.window))
        changes = adapt_weights(
            self.base_weights,
            self.weights,
            records,
            min_samples=self.learning.min_samples,
            floor=self.learning.floor,
            cap=self.learning.cap,
            breakeven=self.breakeven_accuracy,
        )
        if not changes:
            return
        with transaction(self.factory) as session:
            for change in changes:
                session.add(
                    AgentWeight(
                        ts=now,
                        agent=change.agent,
                        weight=change.weight,
                        previous=change.previous,
                        base=change.base,
                        accuracy=change.accuracy,
                        samples=change.samples,
                        reason=change.reason,
                    )
                )
        for change in changes:
            self.weights[change.agent] = change.weight
            log.info("weight of %s: %s", change.agent, change.reason, extra={"kind": "weights"})

    def _load_weights(self) -> None:
        """Learned weights survive restarts, unless the configured weight has changed since
        (the trader's edit wins) or learning is frozen."""
        if self.learning.freeze:
            return
        with self.factory() as session:
            for agent, configured in self.base_weights.items():
                latest = session.scalar(
                    select(AgentWeight)
                    .where(AgentWeight.agent == agent)
                    .order_by(AgentWeight.id.desc())
                    .limit(1)
                )
                if configured > 0 and latest is not None and latest.base == configured:
                    self.weights[agent] = latest.weight

    def _market_brief(
        self,
        pair: str,
        columns: dict[str, np.ndarray],
        candle_ts: datetime,
        regime: str,
        position: Position | None,
    ) -> MarketBrief:
        last = {name: float(columns[name][-1]) for name in INDICATOR_SNAPSHOT if name in columns}
        indicators = {name: value for name, value in last.items() if not math.isnan(value)}
        price = float(columns["close"][-1])
        held = None
        if position is not None:
            held = {
                "entry_price": position.entry_price,
                "amount": position.amount,
                "stop_loss": position.stop_loss,
                "take_profit": position.take_profit,
                "unrealised_pct": (price / position.entry_price - 1) * 100,
            }
        with self.factory() as session:
            recent = session.scalars(
                select(JournalEntry)
                .where(JournalEntry.outcome != journal.PENDING)
                .order_by(JournalEntry.id.desc())
                .limit(5)
            ).all()
            outcomes = [
                f"{e.pair} {e.action} -> {e.outcome} {e.pnl_pct or 0.0:+.1%}" for e in recent
            ]
        return MarketBrief(
            pair=pair,
            price=price,
            candle_time=candle_ts,
            indicators=indicators,
            regime=regime,
            position=held,
            recent_outcomes=outcomes,
        )

    # --- between ticks ----------------------------------------------------------------
    def _stores(self) -> list:
        return [self.factory.kw["bind"], *getattr(self.broker, "engines", [])]

    def defer_checkpoints(self) -> None:
        """The live loop's stores copy their write-ahead log only in `between_ticks`."""
        for engine in self._stores():
            defer_checkpoints(engine)

    def between_ticks(self) -> None:
        """Upkeep the loop does while it waits for the next candle, so no tick carries it:
        the write-ahead logs are copied into the stores. A failure is logged and tried
        again after the next tick; the log only grows meanwhile."""
        for engine in self._stores():
            try:
                checkpoint(engine)
            except Exception:
                log.exception("could not checkpoint the store's write-ahead log")

    def llm_status(self) -> dict | None:
        """The LLM agent's health for the dashboard, or None when it is not on the team."""
        for agent in self.live_agents:
            if agent.name == "llm":
                return dataclasses.asdict(agent.status())
        return None

    # --- orders asked for from outside the loop -----------------------------------------
    def close_position(self, pair: str, reason: str, tag: str) -> str:
        """Close one position at the current price, through risk like any other order."""
        now = self.clock.now()
        price = self.current_price(pair, now)
        with transaction(self.factory) as session:
            if session.get(Position, pair) is None:
                return f"{pair}: no open position"
            candle_ts = self._last_candle.get(pair, now)
            intent = OrderIntent(pair, "sell", price, client_order_id(pair, candle_ts, tag), reason)
            approved = self._approve_exit(session, intent)
        trade = self._send_exit(approved, now)
        with self.factory() as session:
            rest = session.get(Position, pair)
            rest = f"; {rest.amount:.6g} still open with its stop" if rest else ""
        # Its own transaction: a failed snapshot must not roll back a recorded close.
        with transaction(self.factory) as session:
            book.snapshot_equity(session, self.broker, self.marks, now)
        done = "sold only" if rest else "closed"
        return (
            f"{done} {pair} {trade.amount:.6g} at {trade.exit_price:.6g} "
            f"(P&L {trade.pnl:+.2f}){rest}"
        )

    def flatten(self, reason: str, tag: str) -> tuple[list[str], list[str]]:
        """Close every open position; returns (what was done, what failed and why)."""
        closed, failed = [], []
        with self.factory() as session:
            pairs = list(book.open_positions(session))
        now = self.clock.now()
        for pair in pairs:  # price everything first, so every snapshot values the whole book
            try:
                self.current_price(pair, now)
            except Exception as exc:
                log.warning("no price for %s before the flatten: %s", pair, exc)
        for pair in pairs:
            try:
                closed.append(self.close_position(pair, reason, f"{tag}-{pair.split('/')[0]}"))
            except Exception as exc:
                log.exception("could not close %s", pair)
                failed.append(f"{pair}: {exc}")
        try:
            closed.append(self.cancel_open_orders())
        except Exception as exc:  # an open order may still fill: that is a failure too
            log.exception("could not cancel the open orders")
            failed.append(f"open orders not cancelled: {type(exc).__name__}: {exc}")
        with self.factory() as session:
            left = sorted(book.open_positions(session))
        for pair in left:
            if not any(f.startswith(pair) for f in failed):
                failed.append(f"{pair}: still open after the flatten")
        return closed, failed

    def cancel_open_orders(self) -> str:
        cancelled = self.broker.cancel_open_orders(self.clock.now())
        return f"cancelled {cancelled} open orders"

    def current_price(self, pair: str, now: datetime) -> float:
        last_price = getattr(self.feed, "last_price", None)  # a live ticker, where there is one
        if last_price is not None:
            self.marks[pair] = with_retries(lambda: last_price(pair), f"{pair} price")
            return self.marks[pair]
        candles = with_retries(lambda: self.feed.candles(pair, now, 1), f"{pair} price")
        if candles.empty:
            raise TemporaryError(f"{pair}: the {self.feed.name} feed has no price yet")
        self.marks[pair] = float(candles["close"].iloc[-1])
        return self.marks[pair]
