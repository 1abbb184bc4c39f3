"""Executing approved orders: placing one without ever doubling it, the auditor's check
of its fill, and booking what the broker reports. A stored decision's order that fails is
taken back, so its candle is decided again under the same client order id."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, lazyload

from agents.auditor import audit_fill
from data.store.db import transaction
from data.store.models import Decision, Fill, Order, Position, Trade, VoteRow
from data.store.pending_orders import PendingOrder
from engine.trading import book, journal
from engine.trading.account import Account
from engine.trading.risk_records import record_rejection
from engine.venues.broker import Broker, BrokerFill
from engine.venues.errors import (
    OrderNotPlaced,
    OrderStatusUnknown,
    PermanentError,
    TemporaryError,
)
from engine.venues.retry import with_retries
from risk import ApprovedOrder
from risk.stops import StopWalk

if TYPE_CHECKING:
    from engine.trading.learn import Learner
    from engine.trading.loop import TickReport

log = logging.getLogger("volt.execution")
trader_log = logging.getLogger("volt.trader")  # the loop's events keep the loop's name
SUBMIT_ATTEMPTS = 3
ORDER_SENT = "order sent; its fill is being booked"


def place_order(broker: Broker, order: ApprovedOrder, now: datetime) -> BrokerFill:
    """Submit once. When the outcome is unknown, nothing is sent again until the broker knows
    the first send can no longer execute; if it cannot tell, OrderStatusUnknown goes up and
    reconciliation settles the order."""
    cid = order.client_order_id
    for attempt in range(1, SUBMIT_ATTEMPTS + 1):
        try:
            return broker.submit(order, now)
        except OrderStatusUnknown as exc:
            log.warning(
                "%s %s %s: %s (attempt %d of %d); looking it up until the exchange can tell, "
                "before any resend",
                order.pair,
                order.side,
                cid,
                exc,
                attempt,
                SUBMIT_ATTEMPTS,
                extra={"kind": "order_unknown"},
            )
            try:
                found = broker.settle_unknown(order)
            except OrderStatusUnknown as still:
                log.error("%s", still, extra={"kind": "order_unknown"})
                raise
            if found is not None:
                return found
            log.info("%s: the exchange never executed it; sending it again", cid)
        except TemporaryError as exc:
            # Refused before it reached the matching engine (rate limit, clock): resending
            # is safe, and the broker looks the id up before any send anyway.
            log.warning(
                "%s %s %s: %s (attempt %d of %d); looking it up before a resend",
                order.pair,
                order.side,
                cid,
                exc,
                attempt,
                SUBMIT_ATTEMPTS,
                extra={"kind": "order_unknown"},
            )
            found = with_retries(lambda: broker.fetch_order(cid), f"look up order {cid}")
            if found is not None:
                return found
    raise TemporaryError(f"{cid}: not placed after {SUBMIT_ATTEMPTS} attempts")


_ORDER_BY_CLIENT_ID = select(Order).where(Order.client_order_id == bindparam("client_order_id"))


def record_fill(
    session: Session, fill: BrokerFill, reason: str, decision_id: int | None
) -> tuple[Order, Fill]:
    """The engine's own record of a broker fill; a second call for the same id is a no-op."""
    order = session.scalar(_ORDER_BY_CLIENT_ID, {"client_order_id": fill.client_order_id})
    if order is not None:
        return order, session.scalar(select(Fill).where(Fill.order_id == order.id))
    session.execute(
        delete(PendingOrder).where(PendingOrder.client_order_id == fill.client_order_id)
    )
    order = Order(
        client_order_id=fill.client_order_id,
        decision_id=decision_id,
        ts=fill.ts,
        pair=fill.pair,
        side=fill.side,
        kind="market",
        amount=fill.amount,
        price=fill.requested_price,
        status="filled",
        reason=reason,
    )
    session.add(order)
    session.flush()
    row = Fill(
        order_id=order.id,
        ts=fill.ts,
        pair=fill.pair,
        side=fill.side,
        amount=fill.amount,
        price=fill.price,
        fee=fill.fee,
    )
    session.add(row)
    session.flush()
    return order, row


def decision_row(session: Session, decision_id: int) -> Decision | None:
    """The decision row alone: its votes (eagerly loaded by default) are not needed here."""
    return session.get(Decision, decision_id, options=[lazyload(Decision.votes)])


def send(account: Account, approved: ApprovedOrder, now: datetime) -> tuple[BrokerFill, str]:
    """Place an approved order; the auditor then checks the fill against the approval.
    Returns the fill and the auditor's findings ("" when there are none). Slippage is
    measured from the market's price when the order arrived, where the broker says (a
    next-open fill: the market moved from the decision's close meanwhile, which is no fault
    of the fill), else from the approved price."""
    note_sending(account, approved, now)
    try:
        fill = place_order(account.broker, approved, now)
    except OrderStatusUnknown:
        raise  # it may have executed: reconciliation books it with what was noted
    except (PermanentError, TemporaryError):
        forget_sending(account, approved.client_order_id)  # not at the exchange
        raise
    violations = audit_fill(
        approved.side,
        approved.price if fill.market_price is None else fill.market_price,
        fill.sent_amount or approved.amount,  # the exchange's lot size is not a violation
        fill.price,
        fill.amount if fill.filled is None else fill.filled,  # before a fee in the coin
        account.audit_limits,
    )
    if not violations:
        return fill, ""
    text = "; ".join(violations)
    trader_log.warning(
        "auditor: %s %s %s: %s",
        approved.pair,
        approved.side,
        approved.client_order_id,
        text,
        extra={"kind": "audit"},
    )
    return fill, text


def note_sending(account: Account, approved: ApprovedOrder, now: datetime) -> None:
    """Before a send: what its fill is booked with, should the worker die before booking
    it (reconciliation then finds the fill by client order id; see `reconcile`)."""
    with transaction(account.factory) as session:
        session.merge(
            PendingOrder(
                client_order_id=approved.client_order_id,
                decision_id=approved.decision_id,
                sent_at=now,
                pair=approved.pair,
                side=approved.side,
                reason=approved.reason,
                stop_loss=approved.stop_loss,
                take_profit=approved.take_profit,
                trail_distance=approved.trail_distance,
            )
        )


def forget_sending(account: Account, client_order_id: str) -> None:
    """An order the broker never placed: nothing to book later (a row left is harmless)."""
    try:
        with transaction(account.factory) as session:
            session.execute(
                delete(PendingOrder).where(PendingOrder.client_order_id == client_order_id)
            )
    except Exception:
        log.exception("could not forget the unplaced order %s", client_order_id)


def old_fill(approved: ApprovedOrder, order: Order) -> str:
    """The broker answered an order with a fill the book already holds (its id one the
    store booked before): said, and never booked again."""
    text = (
        f"{approved.pair}: the broker answered {approved.side} order "
        f"{approved.client_order_id} with a fill booked before; not booked again (order "
        f"#{order.id}, {order.ts:%Y-%m-%d %H:%M}): the book follows the account"
    )
    trader_log.error(text, extra={"kind": "order_duplicate"})
    return text


def note_audit(session: Session, decision_id: int | None, audit: str) -> None:
    decision = decision_row(session, decision_id) if audit and decision_id else None
    if decision is not None:
        decision.audit = "; ".join(filter(None, [decision.audit, audit]))


def book_exit(
    account: Account,
    session: Session,
    approved: ApprovedOrder,
    fill: BrokerFill,
    audit: str,
    decision_id: int | None = None,
    trail: StopWalk | None = None,
) -> tuple[Trade, Order, Fill]:
    """Book an exit's fill, with the stop walk that met its stop, if any."""
    if trail is not None and (held := session.get(Position, approved.pair)):
        held.stop_loss, held.peak_price = trail.stop_loss, trail.peak_price
    note_audit(session, decision_id, audit)
    # A duplicate here is a fill the broker kept from an attempt whose record failed:
    # recording it now is exactly right (record_fill is idempotent). One the book holds
    # already is an old sale, not this one: the position is not closed.
    order, fill_row = record_fill(session, fill, approved.reason, decision_id)
    if book.booked_before(session, order):
        raise PermanentError(old_fill(approved, order))
    dust = account.broker.dust(fill.pair, fill.price)
    trade = book.record_exit(
        session, order, fill_row, approved.reason, dust, account=account.broker.name
    )
    return trade, order, fill_row


def send_exit(
    account: Account, approved: ApprovedOrder, now: datetime, trail: StopWalk | None = None
) -> Trade:
    """Send an approved exit (no transaction held meanwhile), then book its fill in one
    transaction: a close asked for by hand, or a stop met."""
    fill, audit = send(account, approved, now)
    with transaction(account.factory) as session:
        return book_exit(account, session, approved, fill, audit, trail=trail)[0]


class Execution:
    """Sends a stored decision's order and books its fill with the decision."""

    def __init__(self, account: Account, learner: Learner, decided: set[str]) -> None:
        self.account, self.learner = account, learner
        self.decided = decided  # pairs decided by this process (shared with the loop)

    def decided_before(self, pair: str, candle_ts: datetime) -> bool:
        """Whether the candle was decided before a restart (a candle is never acted on
        twice). A decision left with its order in flight (a crash, or a take-back that
        failed) is taken back and decided again: its order keeps its client id, so a fill
        the broker kept is found and booked with it, never sent twice."""
        if pair in self.decided:  # after that, the last candle seen keeps candles new
            return False
        with self.account.factory() as session:
            found = session.execute(
                select(Decision.id, Decision.outcome).where(
                    Decision.pair == pair, Decision.candle_ts == candle_ts
                )
            ).first()
        return found is not None and not (
            found.outcome == ORDER_SENT and self.withdraw(found.id, pair)
        )

    def send_decided(
        self, decision_id: int, approved: ApprovedOrder, now: datetime, report: TickReport
    ) -> str:
        """Send a stored decision's order and book its fill; on any failure the decision is
        taken back (see `withdraw`) before the error goes on. Returns its outcome."""
        try:
            if approved.side == "sell":
                outcome = "sold: closed the position on the signal"
                self._send_exit(decision_id, approved, now, outcome)
                report.exits += 1
                return outcome
            return self._send_entry(decision_id, approved, now, report)
        except BaseException:
            self.withdraw(decision_id, approved.pair)
            raise

    def _send_exit(
        self, decision_id: int, approved: ApprovedOrder, now: datetime, outcome: str
    ) -> None:
        fill, audit = send(self.account, approved, now)
        with transaction(self.account.factory) as session:
            _, order, fill_row = book_exit(
                self.account, session, approved, fill, audit, decision_id
            )
            self._executed(session, decision_id, outcome, order, fill_row)

    def _send_entry(
        self, decision_id: int, approved: ApprovedOrder, now: datetime, report: TickReport
    ) -> str:
        pair, factory = approved.pair, self.account.factory
        try:
            fill, audit = send(self.account, approved, now)
        except PermanentError as refusal:
            trader_log.warning(
                "%s: the broker refused the entry: %s",
                pair,
                refusal,
                extra={"kind": "order_refused"},
            )
            outcome = f"refused by the broker: {refusal}"
            with transaction(factory) as session:
                record_rejection(session, now, pair, "buy", "broker", str(refusal), decision_id)
                decision_row(session, decision_id).outcome = outcome
            return outcome
        except OrderStatusUnknown as unknown:
            report.skipped[pair] = str(unknown)  # the worker reconciles before the next entry
            outcome = f"order status unknown — reconciliation will settle it ({unknown})"
            with transaction(factory) as session:
                decision_row(session, decision_id).outcome = outcome
            return outcome
        except TemporaryError as exc:
            raise OrderNotPlaced(pair, str(exc)) from exc
        with transaction(factory) as session:
            note_audit(session, decision_id, audit)
            order, fill_row = record_fill(session, fill, "signal", decision_id)
            if book.booked_before(session, order):
                outcome = old_fill(approved, order)
                decision_row(session, decision_id).outcome = outcome
                noted = PendingOrder.client_order_id == fill.client_order_id
                session.execute(delete(PendingOrder).where(noted))  # nothing left to book
                return outcome
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
        decision = decision_row(session, decision_id)
        decision.executed, decision.outcome = True, outcome
        journal.open_entry(session, decision, order, fill)
        self.learner.entry_opened()

    def withdraw(self, decision_id: int, pair: str) -> bool:
        """Take back a decision whose order failed or whose fill could not be booked, as a
        rollback would have: while its candle is the latest it is decided again, under the
        same client order id, so a fill the broker kept is found and booked, never doubled;
        after that, reconciliation books such a fill."""
        try:
            with transaction(self.account.factory) as session:
                session.execute(delete(VoteRow).where(VoteRow.decision_id == decision_id))
                session.execute(delete(Decision).where(Decision.id == decision_id))
        except Exception:
            # Left as ORDER_SENT: the next tick looks its candle up first and tries again.
            trader_log.exception(
                "could not take back decision #%d after its order failed", decision_id
            )
            self.decided.discard(pair)
            return False
        return True
