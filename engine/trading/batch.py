"""How a tick's writes are grouped into transactions. Every pair that sends no order is
booked in one shared transaction (its candles, its decision, a refused entry, the trailing
stop's move), with the equity snapshot, the journal and the protections' review; an order
approved there is sent once it has committed. A pair that must be judged on the book as it
stands after an order (a stop met, an exit waiting for its retry, an entry after another
pair's order) is booked alone, step by step, as is every pair when the shared transaction
fails: one pair's fault never costs another's."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from data.store.db import transaction
from data.store.models import JournalEntry, Position
from data.types import Action
from engine.trading import book
from engine.trading.account import Account
from engine.trading.approve import Approval, TickRisk
from engine.trading.execution import ORDER_SENT, Execution, decision_row
from engine.trading.fetch import NewCandles
from engine.trading.learn import Learner
from engine.trading.risk_records import ExitRetries
from engine.trading.stops import Stops
from engine.trading.tick_records import DecisionPlan, candle_rows, insert_decisions, store_candles
from engine.venues.errors import KeyRefused, PermanentError
from risk import ApprovedOrder

if TYPE_CHECKING:
    from engine.trading.loop import TickReport

log = logging.getLogger("volt.trader")
SEND, ALONE = object(), object()  # how `TickBatch._sort` says a tick sends an order


@dataclass
class PairTick:
    """One pair's part of a tick: its new candles and, once planned, its decision."""

    new: NewCandles
    waiting: str | None = None  # why a refused exit waits for its retry
    plan: DecisionPlan | None = None
    held: bool | None = None  # whether the tick's shared transaction found a position
    trailed: bool = False  # its trailing stop's move is in the shared transaction

    @property
    def pair(self) -> str:
        return self.new.pair

    @property
    def fresh(self) -> pd.DataFrame:
        return self.new.fresh


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


class TickBatch:
    def __init__(
        self,
        account: Account,
        timeframe: str,
        approval: Approval,
        stops: Stops,
        execution: Execution,
        learner: Learner,
        exit_retries: ExitRetries,
    ) -> None:
        self.account, self.timeframe = account, timeframe
        self.approval, self.stops, self.execution = approval, stops, execution
        self.learner, self.exit_retries = learner, exit_retries

    def book_together(
        self, ticks: list[PairTick], now: datetime, report: TickReport
    ) -> Booked | None:
        """One transaction for every pair that sends no order this tick; returns what was
        booked, or None when the transaction failed (then every pair is booked alone)."""
        booked, account = Booked(), self.account
        try:
            with transaction(account.factory) as session:
                rows = [r for t in ticks for r in candle_rows(t.pair, self.timeframe, t.fresh)]
                store_candles(session, rows)
                positions = book.open_positions(session)
                risk = TickRisk(self.approval, session, now, positions)
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
                for decision_id, refusal in zip(quiet_ids, refused, strict=True):
                    if refusal is not None:
                        refusal.record(session, now, decision_id)
                for item, decision_id in zip(staged, staged_ids, strict=True):
                    approved = risk.approve(item.plan, decision_id)
                    booked.staged.append(StagedOrder(item, decision_id, approved))
                if not (booked.deferred or booked.staged):
                    view, context = risk.view(), risk.context()
                    book.snapshot_equity(session, account.broker, account.marks, now, view)
                    booked.resolved, booked.journal_open = self.learner.follow_in(
                        session, now, account.marks
                    )
                    self.approval.review_protections_in(session, now, view, context)
        except KeyRefused:  # no balance to value the book on; the exchange said so once
            return None
        except Exception:
            log.exception("could not write the tick in one transaction; booking each pair alone")
            return None
        self.learner.committed(booked.journal_open)
        for item in ticks:
            if item.trailed:
                self.stops.trailed(item.pair, item.fresh)
            if item.pair in booked.quiet:
                report.decisions += item.plan is not None
                self.settled(item)
        return booked

    def _sort(self, item: PairTick, position: Position | None, screen: TickRisk | None):
        """Where a pair's tick goes: its outcome when it sends no order (the trailing stop's
        move applied; "" when the candle was decided before a restart; an entry the gate
        refuses included), SEND when its decision sends an order that can be approved in
        the shared transaction, ALONE when it must be booked alone (a stop met, an exit
        waiting for its retry, an entry that can only be judged after an earlier order)."""
        if item.waiting is not None:
            return ALONE
        walk = None
        if position is not None:
            walk = self.stops.walk(position, item.fresh)
            if walk.hit:
                return ALONE
        outcome = ""
        if item.plan is not None:
            action = item.plan.consensus.action
            outcome = self.approval.rules.quiet_outcome(action, position is not None, item.pair)
            if outcome is None and action == Action.BUY:
                if screen is None:
                    return ALONE
                outcome = screen.refused_entry(item.plan)
        if walk is not None:
            # Stored with this transaction; the candles are not walked again after it.
            position.stop_loss, position.peak_price = walk.stop_loss, walk.peak_price
            item.trailed = True
        return SEND if outcome is None else outcome

    def to_book_alone(self, ticks: list[PairTick], booked: Booked | None) -> list[PairTick]:
        """The pairs the shared transaction left to be booked alone: all, when it failed."""
        if booked is None:
            return ticks
        return [item for item in ticks if item.pair in booked.deferred]

    def send_staged(self, order: StagedOrder, now: datetime, report: TickReport) -> None:
        """Send a staged decision's order, book its fill, and settle the pair's tick."""
        report.decisions += 1
        try:
            self.execution.send_decided(order.decision_id, order.approved, now, report)
        except PermanentError as refusal:  # a refused exit: an entry's refusal is booked
            self.exit_retries.refused(order.item.pair, now, str(refusal))
            raise
        self.settled(order.item)

    def book_alone(self, item: PairTick, now: datetime, report: TickReport, stored: bool) -> None:
        """A pair's tick step by step, each in its own transaction: candles, stops, decision."""
        if not stored:
            with transaction(self.account.factory) as session:
                store_candles(session, candle_rows(item.pair, self.timeframe, item.fresh))
        if item.waiting is not None:
            raise PermanentError(item.waiting)
        try:
            if item.held is not False:  # no other pair's order opens this one
                self.stops.check(item.pair, item.fresh, now, report)
            if item.plan is not None:
                self.book_decision(item.plan, now, report)
        except PermanentError as refusal:  # entries catch theirs: this is a refused exit
            self.exit_retries.refused(item.pair, now, str(refusal))
            raise
        self.settled(item)

    def book_decision(self, plan: DecisionPlan, now: datetime, report: TickReport) -> str:
        """Store a decision and what risk made of it; an order it sends goes to the broker
        outside any transaction (a kill pressed meanwhile is never kept waiting), and its
        fill is booked in a transaction of its own. Returns the decision's outcome."""
        with transaction(self.account.factory) as session:
            [decision_id] = insert_decisions(session, [(plan, "")], now)
            decision = decision_row(session, decision_id)
            report.decisions += 1
            step = self.approval.order_for(session, decision_id, plan, now)
            if isinstance(step, str):
                decision.outcome = step
                return step
            decision.outcome = ORDER_SENT  # what a crash before the fill's record leaves
        return self.execution.send_decided(decision_id, step, now, report)

    def settled(self, item: PairTick) -> None:
        """The pair's tick went through: its candles are seen and its exit is not waiting."""
        self.exit_retries.succeeded(item.pair)
        self.account.last_candle[item.pair] = item.new.latest
        self.execution.decided.add(item.pair)

    def close_tick(
        self, booked: Booked | None, now: datetime, new_candles: bool
    ) -> list[JournalEntry]:
        """The journal's outcomes this tick resolved. When pairs were booked alone, on a new
        candle: the equity snapshot, the journal and the protections' review, in one
        transaction of their own; without a new candle, only the review, which never costs
        the tick. Otherwise all three are in the shared transaction already."""
        if booked is not None and not (booked.deferred or booked.staged):
            return booked.resolved
        if not new_candles:
            self.approval.review_protections(now)
            return []
        account, journal_open = self.account, None
        with transaction(account.factory) as session:
            view = book.portfolio_view(session, account.broker, account.marks)
            book.snapshot_equity(session, account.broker, account.marks, now, view)
            resolved, journal_open = self.learner.follow_in(session, now, account.marks)
            try:
                with session.begin_nested():
                    self.approval.review_protections_in(session, now, view)
            except Exception:
                log.exception("could not store the state of the risk protections")
        self.learner.committed(journal_open)
        return resolved
