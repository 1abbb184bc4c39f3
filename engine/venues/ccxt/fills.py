"""Orders and trades as ccxt reports them, turned into VOLT's fills: amounts net of a fee
taken in the coin bought, and every fee in the quote currency."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.venues.broker import BrokerFill
from engine.venues.errors import PermanentError


class OrderNotFilled(PermanentError):
    """The order ended (cancelled, expired) with nothing filled."""


def order_client_id(order: dict) -> str:
    """The order's own client id. Binance's answer to a cancel carries the cancel request's
    id as clientOrderId and the order's as origClientOrderId."""
    info = order.get("info") or {}
    return info.get("origClientOrderId") or order.get("clientOrderId") or ""


def net_of_fees(
    pair: str, side: str, filled: float, price: float, fees: list[dict], fee_rate: float
) -> tuple[float, float]:
    """Amount received and the fee in quote. A fee taken in the coin bought shrinks the
    amount held, so the position is what the account really has; a fee in a third currency
    (e.g. BNB) is estimated at `fee_rate`, once for the whole order."""
    base, quote = pair.split("/")
    amount, fee_quote, third_currency = filled, 0.0, False
    for fee in fees:  # one per trade: an order may fill in several
        cost = float(fee.get("cost") or 0.0)
        if fee.get("currency") == quote:
            fee_quote += cost
        elif fee.get("currency") == base:
            fee_quote += cost * price
            if side == "buy":
                amount -= cost
        elif cost:
            third_currency = True
    if third_currency:
        fee_quote += filled * price * fee_rate
    return amount, fee_quote


def order_fill(
    order: dict,
    cid: str,
    requested_price: float,
    now: datetime,
    fees: list[dict],
    fee_rate: float,
) -> BrokerFill:
    """A done order (wholly or partly filled) as a fill; `fees` are its trades' fees."""
    pair = order["symbol"]
    filled = float(order.get("filled") or 0.0)
    if filled <= 0:
        raise OrderNotFilled(f"{pair} {order['side']} {cid}: {order.get('status')}, nothing filled")
    price = float(order.get("average") or (order.get("cost") or 0.0) / filled)
    amount, fee = net_of_fees(pair, order["side"], filled, price, fees, fee_rate)
    stamp = order.get("lastTradeTimestamp") or order.get("timestamp")
    return BrokerFill(
        client_order_id=cid,
        pair=pair,
        side=order["side"],
        amount=amount,
        price=price,
        fee=fee,
        ts=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else now,
        requested_price=requested_price,
        filled=filled,
        sent_amount=float(order["amount"]) if order.get("amount") else None,
    )


def trades_fill(pair: str, cid: str, trades: list[dict], fee_rate: float) -> BrokerFill:
    """One order's trades (myTrades) as a fill at their average price."""
    filled = sum(float(t["amount"]) for t in trades)
    price = sum(float(t["amount"]) * float(t["price"]) for t in trades) / filled
    side = trades[0]["side"]
    fees = [t["fee"] for t in trades if t.get("fee")]
    amount, fee = net_of_fees(pair, side, filled, price, fees, fee_rate)
    return BrokerFill(
        client_order_id=cid,
        pair=pair,
        side=side,
        amount=amount,
        price=price,
        fee=fee,
        ts=datetime.fromtimestamp(max(t["timestamp"] for t in trades) / 1000, UTC),
        requested_price=price,
    )
