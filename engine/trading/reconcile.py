"""At start-up the database follows the broker: VOLT's orders left open by a crash are
cancelled, orders it filled that the engine never recorded are recorded now; anything VOLT did
not place is reported, never adopted. Each difference is one finding, logged as an event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.market.indicators import add_indicators
from data.store.db import transaction
from data.store.models import Decision, Fill, Order, Position, new_order_generation
from data.store.pending_orders import PendingOrder
from data.store.state import update_state
from engine.trading import book, journal
from engine.trading.account import Account
from engine.trading.execution import decision_row, record_fill
from engine.venues.broker import Broker, BrokerFill, OpenOrder
from engine.venues.retry import with_retries

if TYPE_CHECKING:
    from engine.trading.loop import Trader

log = logging.getLogger("volt.reconcile")


def reconcile(
    source: Account | Trader,
    pairs: Sequence[str] | None = None,
    history_candles: int | None = None,
) -> list[str]:
    """Every difference between the broker and the database, settled or reported. With an
    `Account`, `pairs` (whose coins are checked) and `history_candles` (the ATR behind a
    recovered position's stop) are needed; a Trader brings its own."""
    account, pairs, history_candles = _parts(source, pairs, history_candles)
    if history_candles is None:
        raise TypeError("an Account's reconciliation needs its history length")
    broker = account.broker
    # Orders sent with no clear answer first: until the exchange can tell whether they
    # executed, reconciliation fails (and entries wait). Then open orders: a cancelled
    # leftover's partial fill is recorded like any other.
    findings = broker.settle_in_doubt()
    findings += [_settle_open(broker, order) for order in broker.open_orders()]
    unrecorded = _unrecorded(account)
    # Renewed before anything is adopted: a start that fails while adopting must not leave
    # the store sending under the generation whose ids the broker already holds.
    if _store_is_behind(account, unrecorded):
        findings.append(_new_generation(account))
    findings += [_adopt(account, fill, history_candles) for fill in unrecorded]
    return findings + holdings_mismatches(account, pairs=pairs)


def _store_is_behind(account: Account, unrecorded: list[BrokerFill]) -> bool:
    """Whether the broker holds an order of VOLT's this store never noted sending (every
    send is noted first): the store is new or older than the account (lost, reset, restored
    from a copy), and its ids could be ones the broker already holds. A noted send the
    broker does not list never executed (an open one was cancelled above), so a decision
    sent again under the new generation doubles nothing."""
    with account.factory() as session:
        return any(
            fill.ours and session.get(PendingOrder, fill.client_order_id) is None
            for fill in unrecorded
        )


def _new_generation(account: Account) -> str:
    """The store's orders get ids of a new generation, none of which the broker holds."""
    generation = new_order_generation()
    update_state(account.factory, order_generation=generation)
    account.generation = generation
    return (
        "the account holds orders this database never sent (a new, lost or restored "
        f"database): its own orders are now sent under a new id generation ({generation})"
    )


def _parts(
    source: Account | Trader, pairs: Sequence[str] | None, history_candles: int | None
) -> tuple[Account, Sequence[str], int | None]:
    """The account, the pairs and the history length: a Trader's own unless given."""
    if isinstance(source, Account):
        if pairs is None:
            raise TypeError("an Account's reconciliation needs the pairs it trades")
        return source, pairs, history_candles
    return (
        source.account,
        source.pairs if pairs is None else pairs,
        source.history_candles if history_candles is None else history_candles,
    )


def _settle_open(broker: Broker, order: OpenOrder) -> str:
    what = (
        f"open {order.side} order {order.client_order_id or order.exchange_order_id} "
        f"({order.amount:.8g} {order.pair} at {order.price:.6g}, {order.filled:.8g} filled)"
    )
    if not order.ours:
        return f"{what} was not placed by VOLT; left alone, check the account"
    broker.cancel_order(order)
    return f"{what} was left by an earlier run; cancelled, any part filled is recorded"


def _unrecorded(account: Account) -> list[BrokerFill]:
    with account.factory() as session:
        known = set(session.scalars(select(Order.client_order_id)))
    return [fill for fill in account.broker.orders() if fill.client_order_id not in known]


def _adopt(account: Account, fill: BrokerFill, history_candles: int) -> str:
    what = f"{fill.client_order_id} ({fill.side} {fill.amount:.8g} {fill.pair} at {fill.price:.6g})"
    if not fill.ours:
        return f"order {what} was not placed by VOLT; left alone, check the account"
    with transaction(account.factory) as session:
        position = session.get(Position, fill.pair)
        # Sent by a worker that died before booking it: booked as it was sent, with its
        # decision and reason ("recovered" when nothing was noted before the send).
        sent = session.get(PendingOrder, fill.client_order_id)
        reason = sent.reason if sent is not None else "recovered"
        decision = _decision_of(session, sent)
        order, row = record_fill(session, fill, reason, decision and decision.id)
        if fill.side == "buy" and position is None:
            if sent is not None and sent.stop_loss > 0:
                stop, target = sent.stop_loss, sent.take_profit
            else:
                stop, target = _protective_levels(account, fill, history_candles)
            trail = sent.trail_distance if sent is not None else 0.0
            book.record_entry(session, order, row, stop, target, trail_distance=trail)
            _executed(session, decision, order, row, f"bought {fill.amount:.6g}")
            return (
                f"recorded {what}, filled while the engine was not looking; "
                f"stop {stop:.6g}, take profit {target:.6g}{_for(decision, reason)}"
            )
        if fill.side == "sell" and position is not None:
            dust = account.broker.dust(fill.pair, fill.price)
            trade = book.record_exit(session, order, row, reason, dust, account=account.broker.name)
            _executed(session, decision, order, row, "sold: closed the position on the signal")
            if session.get(Position, fill.pair) is not None:
                return (
                    f"recorded {what}, which sold part of the position (P&L "
                    f"{trade.pnl:+.2f}); the rest stays open with its stop{_for(decision, reason)}"
                )
            return (
                f"recorded {what}, which closed the position (P&L {trade.pnl:+.2f})"
                f"{_for(decision, reason)}"
            )
    if fill.side == "buy":
        return f"ERROR: recorded {what}, a second buy for a pair already held; check the account"
    return f"ERROR: recorded {what}, a sell with no position to close; check the account"


def _decision_of(session: Session, sent: PendingOrder | None) -> Decision | None:
    """The decision the order was sent for, unless it was taken back meanwhile."""
    if sent is None or sent.decision_id is None:
        return None
    return decision_row(session, sent.decision_id)


def _executed(
    session: Session, decision: Decision | None, order: Order, fill: Fill, done: str
) -> None:
    """The decision's outcome, no longer "order sent", and its journal entry."""
    if decision is None:
        return
    decision.executed = True
    decision.outcome = f"{done} at {fill.price:.6g} (booked after a restart)"
    journal.open_entry(session, decision, order, fill)


def _for(decision: Decision | None, reason: str) -> str:
    if decision is None:
        return f" ({reason})" if reason != "recovered" else ""
    return f" ({reason}, decision #{decision.id})"


def _protective_levels(
    account: Account, fill: BrokerFill, history_candles: int
) -> tuple[float, float]:
    candles = with_retries(
        lambda: account.feed.candles(fill.pair, account.clock.now(), history_candles),
        f"{fill.pair} candles for a recovered position's stop",
    )
    atr = float(add_indicators(candles)["atr"].iloc[-1]) if len(candles) > 20 else float("nan")
    if not atr > 0:
        atr = fill.price * 0.01  # no history: a 1% ATR keeps the position protected
    return account.gate.protective_levels(fill.price, atr)


def holdings_mismatches(
    source: Account | Trader, surplus: bool = True, pairs: Sequence[str] | None = None
) -> list[str]:
    """Coins the account holds against VOLT's positions in `pairs` (a Trader's own when
    not given). `surplus` False: only shortfalls, for an exchange account that may also
    hold coins of its owner's."""
    account, pairs, _ = _parts(source, pairs, None)
    broker = account.broker
    balances = broker.balances()  # before the book: a sale booked meanwhile is seen held
    findings = []
    with transaction(account.factory) as session:
        positions = book.open_positions(session)
        dust = book.written_off_dust(session)
        last_trade = book.last_trade_id(session)
        for pair in pairs:
            base = pair.split("/")[0]
            held = balances.get(base, 0.0)
            expected = positions[pair].amount if pair in positions else 0.0
            tolerance = max(1e-9 * max(1.0, expected), broker.dust(pair))
            if held <= expected + 1e-9 * max(1.0, expected) and dust.get(pair):
                # The coin is back at VOLT's amount: its dust was converted or moved away.
                # From here on only new dust is expected, so the allowance is what was written
                # off since the coin was last seen at VOLT's amount, never all the dust ever
                # written off (which could hide coin its owner adds).
                book.dust_seen_gone(session, pair, last_trade)
                dust.pop(pair)
            finding = _holding_mismatch(
                broker, base, held, expected, dust.get(pair, 0.0), tolerance, surplus
            )
            if finding:
                findings.append(finding)
    return findings


def _holding_mismatch(
    broker: Broker,
    base: str,
    held: float,
    expected: float,
    dust: float,
    tolerance: float,
    surplus: bool,
) -> str | None:
    # Dust the round trips wrote off may still be there: no mismatch, never adopted.
    if expected - tolerance <= held <= expected + dust + tolerance:
        return None
    if held > expected and not surplus:
        return None
    if held > expected and not broker.exclusive_account:
        return (
            f"{base}: the {broker.name} account holds {held:.8g}, VOLT's open positions "
            f"{expected:.8g}; the other {held - expected - dust:.8g} (beyond dust VOLT wrote "
            "off) is not VOLT's: reported, not adopted"
        )
    return (
        f"{base}: the {broker.name} account holds {held:.8g} "
        f"but VOLT's open positions add up to {expected:.8g}"
    )
