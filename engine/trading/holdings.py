"""What on an exchange account is VOLT's and what is not, for the Control page.

VOLT's own: its cash (engine.trading.book.own_cash), the amounts of its open positions, and
the dust its round trips wrote off. Everything else on the account (other coins, more of a
coin than VOLT holds, quote beyond VOLT's cash, orders without a VOLT client order id) is
its owner's: shown apart, never counted in VOLT's equity, never adopted."""

from __future__ import annotations

from typing import Any

from engine.trading import book
from engine.trading.account import Account

# Below this a leftover is float noise, not a holding.
NOISE = 1e-12


def foreign_holdings(account: Account) -> dict[str, Any]:
    """{"balances": {currency: amount}, "orders": [...], "dust": {coin: amount}}: what is
    not VOLT's, and the dust VOLT wrote off, as the Control page shows them."""
    broker = account.broker
    balances = broker.balances()
    with account.factory() as session:
        positions = book.open_positions(session)
        cash = book.own_cash(session, broker, positions)
        dust = book.written_off_dust(session)
    own: dict[str, float] = {broker.quote: cash}
    for pair, position in positions.items():
        base = pair.split("/")[0]
        own[base] = own.get(base, 0.0) + position.amount
    written_off: dict[str, float] = {}
    for pair, amount in dust.items():
        base = pair.split("/")[0]
        written_off[base] = written_off.get(base, 0.0) + amount
    foreign, dust_held = {}, {}
    for currency, total in balances.items():
        rest = total - own.get(currency, 0.0)
        left = min(max(rest, 0.0), written_off.get(currency, 0.0))
        if left > NOISE:
            dust_held[currency] = left
        if rest - left > NOISE * max(1.0, total):
            foreign[currency] = rest - left
    orders = [
        {
            "id": order.client_order_id or order.exchange_order_id,
            "pair": order.pair,
            "side": order.side,
            "amount": order.amount,
            "filled": order.filled,
            "price": order.price,
        }
        for order in broker.open_orders()
        if not order.ours
    ]
    return {"balances": foreign, "orders": orders, "dust": dust_held}
