"""At start-up the database follows the broker: VOLT's orders left open by a crash are
cancelled, orders it filled that the engine never recorded are recorded now; anything VOLT did
not place is reported, never adopted. Each difference is one finding, logged as an event."""

from __future__ import annotations

import logging

from sqlalchemy import select

from data.market.indicators import add_indicators
from data.store.db import transaction
from data.store.models import Order, Position
from engine.trading import book
from engine.trading.execution import record_fill
from engine.trading.trader import Trader
from engine.venues.broker import OWN_PREFIX, BrokerFill
from engine.venues.retry import with_retries

log = logging.getLogger("volt.reconcile")


def reconcile(trader: Trader) -> list[str]:
    # Orders sent with no clear answer first: until the exchange can tell whether they
    # executed, reconciliation fails (and entries wait). Then open orders: a cancelled
    # leftover's partial fill is recorded like any other.
    findings = trader.broker.settle_in_doubt()
    findings += [_settle_open(trader, order) for order in trader.broker.open_orders()]
    findings += [_adopt(trader, fill) for fill in _unrecorded(trader)]
    return findings + holdings_mismatches(trader)


def _settle_open(trader: Trader, order) -> str:
    what = (
        f"open {order.side} order {order.client_order_id or order.exchange_order_id} "
        f"({order.amount:.8g} {order.pair} at {order.price:.6g}, {order.filled:.8g} filled)"
    )
    if not order.client_order_id.startswith(OWN_PREFIX):
        return f"{what} was not placed by VOLT; left alone, check the account"
    trader.broker.cancel_order(order)
    return f"{what} was left by an earlier run; cancelled, any part filled is recorded"


def _unrecorded(trader: Trader) -> list[BrokerFill]:
    with trader.factory() as session:
        known = set(session.scalars(select(Order.client_order_id)))
    return [fill for fill in trader.broker.orders() if fill.client_order_id not in known]


def _adopt(trader: Trader, fill: BrokerFill) -> str:
    what = f"{fill.client_order_id} ({fill.side} {fill.amount:.8g} {fill.pair} at {fill.price:.6g})"
    if not fill.client_order_id.startswith(OWN_PREFIX):
        return f"order {what} was not placed by VOLT; left alone, check the account"
    with transaction(trader.factory) as session:
        position = session.get(Position, fill.pair)
        order, row = record_fill(session, fill, "recovered", None)
        if fill.side == "buy" and position is None:
            stop, target = _protective_levels(trader, fill)
            book.record_entry(session, order, row, stop, target)
            return (
                f"recorded {what}, filled while the engine was not looking; "
                f"stop {stop:.6g}, take profit {target:.6g}"
            )
        if fill.side == "sell" and position is not None:
            dust = trader.broker.dust(fill.pair, fill.price)
            trade = book.record_exit(session, order, row, "recovered", dust)
            if session.get(Position, fill.pair) is not None:
                return (
                    f"recorded {what}, which sold part of the position (P&L "
                    f"{trade.pnl:+.2f}); the rest stays open with its stop"
                )
            return f"recorded {what}, which closed the position (P&L {trade.pnl:+.2f})"
    if fill.side == "buy":
        return f"ERROR: recorded {what}, a second buy for a pair already held; check the account"
    return f"ERROR: recorded {what}, a sell with no position to close; check the account"


def _protective_levels(trader: Trader, fill: BrokerFill) -> tuple[float, float]:
    candles = with_retries(
        lambda: trader.feed.candles(fill.pair, trader.clock.now(), trader.history_candles),
        f"{fill.pair} candles for a recovered position's stop",
    )
    atr = float(add_indicators(candles)["atr"].iloc[-1]) if len(candles) > 20 else float("nan")
    if not atr > 0:
        atr = fill.price * 0.01  # no history: a 1% ATR keeps the position protected
    return trader.gate.protective_levels(fill.price, atr)


def holdings_mismatches(trader: Trader, surplus: bool = True) -> list[str]:
    """Coins the account holds against VOLT's positions. `surplus` False: only shortfalls,
    for an exchange account that may also hold coins of its owner's."""
    broker = trader.broker
    balances = broker.balances()
    with trader.factory() as session:
        positions = book.open_positions(session)
    findings = []
    for pair in trader.pairs:
        base = pair.split("/")[0]
        held = balances.get(base, 0.0)
        expected = positions[pair].amount if pair in positions else 0.0
        tolerance = max(1e-9 * max(1.0, expected), broker.dust(pair))
        if abs(held - expected) <= tolerance or (held > expected and not surplus):
            continue
        if held > expected and not broker.exclusive_account:
            findings.append(
                f"{base}: the {broker.name} account holds {held:.8g}, VOLT's open positions "
                f"{expected:.8g}; the other {held - expected:.8g} is not VOLT's: reported, "
                "not adopted"
            )
        else:
            findings.append(
                f"{base}: the {broker.name} account holds {held:.8g} "
                f"but VOLT's open positions add up to {expected:.8g}"
            )
    return findings
