"""Risk's part in a decision. The rules that keep an entry quiet whatever risk would say;
the one path an entry takes through the gate, its refusal logged and stored once; exits,
which always pass; and the protections' locks, stored so they outlive a restart."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from data.store.db import transaction
from data.store.models import Position
from data.types import Action, PortfolioView
from engine.trading import book
from engine.trading.account import Account
from engine.trading.risk_records import record_rejection, risk_context, sync_locks
from engine.trading.tick_records import DecisionPlan
from engine.venues.errors import KeyRefused
from engine.venues.retry import with_retries
from risk import ApprovedOrder, OrderIntent, RiskContext, RiskRejection

log = logging.getLogger("volt.trader")


def plan_intent(
    account: Account, plan: DecisionPlan, side: str, decision_id: int | None = None
) -> OrderIntent:
    """The order a decision sends: its client order id comes from its pair and candle (and
    the store's generation), so the same decision always sends the same order."""
    return OrderIntent(
        plan.pair,
        side,
        plan.order_price,
        account.order_id(plan.pair, plan.candle_ts, side[0]),
        "signal",
        atr=plan.atr if side == "buy" else math.nan,
        decision_id=decision_id,
        regime=plan.regime,
    )


def at_market(plan: DecisionPlan, account: Account, now: datetime) -> DecisionPlan:
    """A decision that acts, priced where a market order sent now fills: the open of the
    candle forming at `now` (`Feed.opening_price`). The gate sizes it, sets its stops and
    weighs its costs on that price, the price the order fills from (the backtest's next
    open); the decision keeps its close. Unchanged when the feed knows no such candle."""
    if plan.consensus.action == Action.HOLD:
        return plan
    feed = account.feed
    opening = with_retries(lambda: feed.opening_price(plan.pair, now), f"{plan.pair} price")
    return plan if opening is None else replace(plan, fill_price=float(opening))


def approve_exit(account: Account, session: Session, intent: OrderIntent) -> ApprovedOrder:
    """An exit always passes the gate; a partly sold position sells its rest."""
    intent = book.exit_intent(session, intent)
    return account.gate.approve(intent, book.portfolio_view(session, account.broker, account.marks))


@dataclass
class EntryRules:
    """Why entries wait, whatever risk would say: set by the worker (a pause, the laptop's
    guards) and by the staleness watch."""

    paused: bool = False
    blocks: list[str] = field(default_factory=list)  # refreshed each tick
    stale: set[str] = field(default_factory=set)  # pairs whose candles stopped coming
    # Why the exchange refuses the API key, if it does: asked at each decision, since the
    # refusal may start or end in the middle of a tick.
    key_refused: Callable[[], str | None] = lambda: None

    def quiet_outcome(self, action: Action, holding: bool, pair: str) -> str | None:
        """The outcome of a decision that sends no order, or None when it sends one."""
        if action == Action.HOLD:
            return "hold"
        if action == Action.SELL:
            return None if holding else "no position to sell"
        if holding:
            return "already holding"
        if self.paused:
            return "entries paused"
        if (refused := self.key_refused()) is not None:
            return f"entries paused: {refused}"
        if self.blocks:
            return f"entries paused: {'; '.join(self.blocks)}"
        if pair in self.stale:
            return "entries paused: stale market data"
        return None


@dataclass(frozen=True)
class Refusal:
    """An entry the gate refused: the decision's outcome, and a rejection row beside it."""

    pair: str
    reason: str

    @property
    def outcome(self) -> str:
        return f"rejected by risk: {self.reason}"

    def record(self, session: Session, now: datetime, decision_id: int) -> None:
        record_rejection(session, now, self.pair, "buy", "risk", self.reason, decision_id)


class Approval:
    """Every order a decision sends passes here, alone or in the tick's shared transaction."""

    def __init__(self, account: Account, rules: EntryRules, pairs: list[str]) -> None:
        self.account, self.rules, self.pairs = account, rules, pairs
        self.day_starts: dict[datetime, float] = {}  # today's starting equity, once known

    def context(self, session: Session, view: PortfolioView, now: datetime) -> RiskContext:
        # Read in the caller's transaction: a kill pressed before it stops the entry.
        return risk_context(session, view, self.account.marks, now, self.day_starts)

    def judge_entry(
        self, intent: OrderIntent, view: PortfolioView, context: RiskContext, screen: bool = False
    ) -> ApprovedOrder | Refusal | None:
        """The gate's answer on an entry: the order approved, or its refusal (logged). A
        `screen` only sorts decisions before any order is sent: it approves nothing (None)."""
        gate = self.account.gate
        try:
            if screen:
                gate.check_entry(intent, view, context)
                return None
            return gate.approve(intent, view, context)
        except RiskRejection as rejection:
            log.info("risk rejected %s: %s", intent.pair, rejection)
            return Refusal(intent.pair, str(rejection))

    def order_for(
        self, session: Session, decision_id: int, plan: DecisionPlan, now: datetime
    ) -> str | ApprovedOrder:
        """A stored decision's outcome when it sends nothing, or the order risk approved."""
        pair, action = plan.pair, plan.consensus.action
        quiet = self.rules.quiet_outcome(action, session.get(Position, pair) is not None, pair)
        if quiet is not None:
            return quiet
        if action == Action.SELL:
            return approve_exit(
                self.account, session, plan_intent(self.account, plan, "sell", decision_id)
            )
        view = book.portfolio_view(session, self.account.broker, self.account.marks)
        context = self.context(session, view, now)
        judged = self.judge_entry(
            plan_intent(self.account, plan, "buy", decision_id), view, context
        )
        if isinstance(judged, Refusal):
            judged.record(session, now, decision_id)
            return judged.outcome
        return judged

    def review_protections(self, now: datetime) -> None:
        try:
            with transaction(self.account.factory) as session:
                self.review_protections_in(session, now)
        except Exception:
            log.exception("could not store the state of the risk protections")

    def review_protections_in(
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
        account = self.account
        try:
            view = view or book.portfolio_view(session, account.broker, account.marks)
            context = context or self.context(session, view, now)
            blocks = {}
            for pair in self.pairs:
                for block in account.gate.blocks(replace(context, pair=pair)):
                    blocks.setdefault((block.protection, block.pair), block)
            sync_locks(session, blocks.values(), now)
        except SQLAlchemyError:
            raise
        except KeyRefused:
            pass  # no balance to judge them on: the locks stay as stored (said once)
        except Exception:
            log.exception("could not store the state of the risk protections")


class TickRisk:
    """The gate's view of the book inside the tick's shared transaction, read once when
    first needed: an entry it refuses sends nothing, so it is booked with the quiet pairs."""

    def __init__(
        self, approval: Approval, session: Session, now: datetime, positions: dict[str, Position]
    ) -> None:
        self.approval, self.session, self.now = approval, session, now
        self.positions = positions  # read in this transaction
        self.refusals: dict[str, Refusal] = {}  # pair -> the gate's refusal of its entry
        self._view: PortfolioView | None = None
        self._context: RiskContext | None = None

    def view(self) -> PortfolioView:
        if self._view is None:
            account = self.approval.account
            self._view = book.portfolio_view(
                self.session, account.broker, account.marks, self.positions
            )
        return self._view

    def context(self) -> RiskContext:
        if self._context is None:
            self._context = self.approval.context(self.session, self.view(), self.now)
        return self._context

    def refused_entry(self, plan: DecisionPlan) -> str | None:
        """The outcome of a buy the gate refuses (stored with its decision), or None when
        it would pass: then it is approved by `approve`, or alone, on the book as it is."""
        judged = self.approval.judge_entry(
            plan_intent(self.approval.account, plan, "buy"),
            self.view(),
            self.context(),
            screen=True,
        )
        if judged is None:
            return None
        self.refusals[plan.pair] = judged
        return judged.outcome

    def approve(self, plan: DecisionPlan, decision_id: int) -> ApprovedOrder:
        """Risk's approval of a staged decision's order, in the shared transaction (which
        read the kill switch): an exit always passes; an entry passed the screen above."""
        account = self.approval.account
        if plan.consensus.action == Action.SELL:
            return approve_exit(
                account, self.session, plan_intent(account, plan, "sell", decision_id)
            )
        intent = plan_intent(account, plan, "buy", decision_id)
        return account.gate.approve(intent, self.view(), self.context())
