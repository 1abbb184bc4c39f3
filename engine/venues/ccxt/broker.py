"""Orders on a real exchange (testnet or live) through ccxt.

Every order carries the client order id the engine derived from its decision. Before sending,
the broker asks the exchange for that id, so a resend after a lost answer finds the first order
instead of placing a second one. An order is followed until it is filled or cancelled.

A send with no clear answer (timeout, 5xx, -1007) may still execute later, and Binance takes a
client order id again once the earlier order is no longer open. So nothing is resent while the
outcome is unknown: the broker keeps looking the id up until the exchange's clock has passed
the request's timestamp plus recvWindow, after which the exchange refuses the request; only
then does an absent order mean it never executed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import ccxt

from engine.venues.broker import BrokerFill, OpenOrder
from engine.venues.ccxt.exchange import ExchangeClient, UnknownOrder
from engine.venues.ccxt.fills import order_client_id, order_fill, trades_fill
from engine.venues.ccxt.limits import check_order_limits, check_price_move, least_sellable
from engine.venues.errors import OrderStatusUnknown, PermanentError, TemporaryError
from engine.venues.retry import with_retries
from risk import ApprovedOrder

log = logging.getLogger("volt.broker")
T = TypeVar("T")
BALANCE_TTL_SECONDS = 5.0
DONE = ("closed", "canceled", "cancelled", "expired", "rejected")
# Exchanges without a recvWindow option: assume a request may execute for this long.
DEFAULT_RECV_WINDOW_MS = 60_000
READ_ATTEMPTS = 3  # a read (balance, orders, fills) is retried as the candle reads are


class CcxtBroker:
    exclusive_account = False  # the account may hold coins VOLT never bought

    def __init__(
        self,
        exchange: ExchangeClient,
        *,
        quote_currency: str,
        pairs: list[str],
        max_order_value: float,
        order_wait_seconds: float,
        poll_seconds: float,
        reconcile_hours: float,
        fee_rate: float,
        capital: float,
    ) -> None:
        self.exchange = exchange
        self.api = exchange.api
        self.name = exchange.label
        self.quote = quote_currency
        self.pairs = pairs
        self.max_order_value = max_order_value
        self.order_wait_seconds = order_wait_seconds
        self.poll_seconds = poll_seconds
        self.reconcile_hours = reconcile_hours
        self.fee_rate = fee_rate
        self.capital = capital  # the quote VOLT was given to trade (broker.starting_capital)
        self._pair_of: dict[str, str] = {}  # client order id -> pair, for lookups
        # Sent with no clear answer: client order id -> (exchange ms after which the request
        # can no longer execute, the order).
        self._in_doubt: dict[str, tuple[int, ApprovedOrder]] = {}
        self._client_ids: dict[tuple[str, str], str] = {}  # (pair, exchange id) -> client id
        self._balance: tuple[float, dict] | None = None

    # --- account --------------------------------------------------------------------------
    def _fetch_balance(self) -> dict:
        if self._balance and time.monotonic() - self._balance[0] < BALANCE_TTL_SECONDS:
            return self._balance[1]
        balance = self._read("balances", self.api.fetch_balance)
        self._balance = (time.monotonic(), balance)
        return balance

    def cash(self) -> float:
        return float(self._fetch_balance().get("free", {}).get(self.quote) or 0.0)

    def balances(self) -> dict[str, float]:
        totals = self._fetch_balance().get("total", {})
        return {currency: float(total) for currency, total in totals.items() if total}

    def _read(self, what: str, method: Callable[..., T], *args: Any) -> T:
        """A read reconciliation and risk depend on: one 502 or -1021 (the clock re-synced)
        is retried, not a failed step. Sends are never retried here."""
        return with_retries(lambda: self.exchange.call(what, method, *args), what, READ_ATTEMPTS)

    # --- orders ---------------------------------------------------------------------------
    def submit(self, order: ApprovedOrder, now: datetime) -> BrokerFill:
        if not order.approved:
            raise PermissionError(f"{order.pair}: order did not pass the risk gate; refused")
        cid = order.client_order_id
        self._pair_of[cid] = order.pair
        if cid in self._in_doubt:  # an earlier send of this id may still execute
            found = self.settle_unknown(order)
            if found is not None:
                return found
        existing = self.fetch_order(cid)
        if existing is not None:
            return existing
        amount = self._checked_amount(order)
        price = order.price if order.order_type == "limit" else None
        self._balance = None
        try:
            placed = self.exchange.call(
                f"place {order.side} {order.pair} {cid}",
                self.api.create_order,
                order.pair,
                order.order_type,
                order.side,
                amount,
                price,
                {"clientOrderId": cid},
                placing=True,
            )
        except OrderStatusUnknown:
            # The request was stamped before now: past this, the exchange refuses it.
            self._in_doubt[cid] = (self._exchange_ms() + self._recv_window_ms(), order)
            raise
        return self._as_fill(self._until_done(placed, order.pair), order.price, now, cid)

    # --- an order sent with no clear answer -------------------------------------------------
    def settle_unknown(self, order: ApprovedOrder) -> BrokerFill | None:
        """The order as the exchange has it; None once it is known never to have executed
        (so it may be sent again). OrderStatusUnknown when the exchange could not tell in time:
        nothing is resent, and reconciliation settles it later."""
        cid, pair = order.client_order_id, order.pair
        if cid not in self._in_doubt:
            return self.fetch_order(cid)
        deadline = self._in_doubt[cid][0]
        # Wait for the exchange's clock to pass the deadline, plus a lookup's time after it.
        give_up = time.monotonic() + max(0, deadline - self._exchange_ms()) / 1000
        give_up += self.api.timeout / 1000
        trouble = "the exchange does not show it yet"
        while True:
            try:
                # The clock is read before the lookup: an order absent after the deadline
                # can no longer appear.
                past = self._exchange_ms() > deadline and self._exchange_time() > deadline
                found = self._look_up(cid, pair)
            except TemporaryError as exc:
                trouble = str(exc)
            except PermanentError as exc:
                trouble = str(exc)
                give_up = 0.0  # asking again cannot help
            else:
                if found is not None or past:
                    del self._in_doubt[cid]
                    return self._done(found, pair) if found is not None else None
            if time.monotonic() >= give_up:
                raise OrderStatusUnknown(
                    f"{pair} {order.side} {cid}: sent with no clear answer, and whether it "
                    f"executed is still unknown ({trouble}); nothing resent: reconciliation "
                    "will settle it"
                )
            time.sleep(self.poll_seconds)

    def settle_in_doubt(self) -> list[str]:
        """Before reconciling: every order sent with no clear answer, settled one way or the
        other (raises OrderStatusUnknown while the exchange still cannot tell)."""
        findings = []
        for cid, (_deadline, order) in list(self._in_doubt.items()):
            found = self.settle_unknown(order)
            outcome = "it executed" if found is not None else "it never executed"
            findings.append(f"order {cid} was sent with no clear answer: {outcome}")
        return findings

    def _exchange_ms(self) -> int:
        """Now on the exchange's clock as this client signs requests."""
        return int(self.api.milliseconds() - (self.api.options.get("timeDifference") or 0))

    def _exchange_time(self) -> int:
        return int(self._read("exchange time", self.api.fetch_time))

    def _recv_window_ms(self) -> int:
        window = self.api.options.get("recvWindow") or DEFAULT_RECV_WINDOW_MS
        return int(window) + int(self.api.timeout)  # plus the client timeout, as a margin

    def _checked_amount(self, order: ApprovedOrder) -> float:
        """The amount at the exchange's precision, refused here if the exchange would."""
        market = self.exchange.market(order.pair)
        limits = market.get("limits") or {}
        try:
            amount = float(self.api.amount_to_precision(order.pair, order.amount))
        except ccxt.InvalidOrder:
            amount = 0.0
        # A market order is valued at the market (Binance: its average price), not at the
        # price the decision saw.
        price = order.price if order.order_type == "limit" else self._market(order)
        cap = self.max_order_value * (1 + 1e-9)
        if order.side == "buy" and amount * price > cap and amount * order.price <= cap:
            amount = self._under_cap(order, amount, price, market)  # sized under it
        value = amount * price
        check_order_limits(
            order,
            amount,
            value,
            limits,
            exchange_id=self.exchange.id,
            quote=self.quote,
            max_order_value=self.max_order_value,
        )
        return amount

    def _under_cap(self, order: ApprovedOrder, amount: float, price: float, market: dict) -> float:
        """A buy sized to the cap at the gate's price, worth more at the live `price`:
        shrunk to the cap at that price, rounded down to the lot step, so the cap holds at
        the price actually sent. Refused when the price rose beyond the tolerance."""
        cap = self.max_order_value
        check_price_move(order, amount, price, cap, self.quote)
        try:
            fitted = float(self.api.amount_to_precision(order.pair, cap / price))
        except ccxt.InvalidOrder:
            return 0.0  # less than one lot: refused below as under the minimum
        step = self._lot_step(market)
        while fitted > 0 and fitted * price > cap:  # a rounding never pushes it over
            fitted = max(0.0, fitted - (step or fitted * 1e-9))
        log.info(
            "%s buy %s: %.8g is worth %.2f %s at the live price %.6g (sized at %.6g); "
            "shrunk to %.8g, under exchange.max_order_value %g",
            order.pair,
            order.client_order_id,
            amount,
            amount * price,
            self.quote,
            price,
            order.price,
            fitted,
            cap,
            extra={"kind": "order_shrunk"},
        )
        return fitted

    def _until_done(self, placed: dict, pair: str) -> dict:
        """Poll until filled or cancelled; what is still open after the wait is cancelled."""
        order = placed
        deadline = time.monotonic() + self.order_wait_seconds
        while order.get("status") not in DONE and time.monotonic() < deadline:
            time.sleep(self.poll_seconds)
            order = self._fetch(order["id"], pair)
        if order.get("status") not in DONE:
            log.info(
                "%s: order %s still open after %.0f s; cancelling the rest",
                pair,
                order_client_id(order),
                self.order_wait_seconds,
            )
            cancelled = self._cancel(order["id"], pair)
            if cancelled and cancelled.get("status") in DONE:
                return cancelled  # the final state; its id is fixed by order_client_id
            order = self._fetch(order["id"], pair)
        return order

    def _market(self, order: ApprovedOrder) -> float:
        ticker = self._read(f"{order.pair} ticker", self.api.fetch_ticker, order.pair)
        return float(ticker.get("last") or order.price)

    def _fetch(self, exchange_order_id: str, pair: str) -> dict:
        return self._read(
            f"order {exchange_order_id} {pair}", self.api.fetch_order, exchange_order_id, pair
        )

    def _cancel(self, exchange_order_id: str, pair: str) -> dict | None:
        self._balance = None
        try:
            return self.exchange.call(
                f"cancel {exchange_order_id} {pair}",
                self.api.cancel_order,
                exchange_order_id,
                pair,
            )
        except PermanentError as exc:
            # Filled or cancelled in the meantime: the final status says which.
            log.info("%s: cancel of %s not needed: %s", pair, exchange_order_id, exc)
            return None

    def _as_fill(
        self, order: dict, requested_price: float, now: datetime, cid: str | None = None
    ) -> BrokerFill:
        cid = cid or order_client_id(order)
        fees = order.get("fees") or []
        if float(order.get("filled") or 0.0) > 0 and not any(fee.get("cost") for fee in fees):
            trades = self._read(
                f"fills of {cid}", self.api.fetch_order_trades, order["id"], order["symbol"]
            )
            fees = [trade["fee"] for trade in trades if trade.get("fee")]
        return order_fill(order, cid, requested_price, now, fees, self.fee_rate)

    def fetch_order(self, client_order_id: str) -> BrokerFill | None:
        """The order with this client order id, once done; None if the exchange has none
        (or it ended with nothing filled, so the id may be sent again)."""
        pairs = [self._pair_of[client_order_id]] if client_order_id in self._pair_of else self.pairs
        for pair in pairs:
            found = self._look_up(client_order_id, pair)
            if found is not None:
                return self._done(found, pair)
        return None

    def _look_up(self, client_order_id: str, pair: str) -> dict | None:
        try:
            return self.exchange.call(
                f"look up {client_order_id}",
                self.api.fetch_order,
                None,
                pair,
                {"clientOrderId": client_order_id},
                lookup=True,
            )
        except UnknownOrder:
            return None

    def _done(self, found: dict, pair: str) -> BrokerFill | None:
        """A found order followed to its end, as a duplicate fill; None if nothing filled."""
        cid = order_client_id(found)
        found = self._until_done(found, pair)
        if float(found.get("filled") or 0.0) <= 0:
            return None
        requested = float(found.get("price") or found.get("average") or 0.0)
        return replace(self._as_fill(found, requested, _now(), cid), duplicate=True)

    def orders(self) -> list[BrokerFill]:
        """Orders filled (wholly or partly) in the last `exchange.reconcile_hours`."""
        since = int((_now() - timedelta(hours=self.reconcile_hours)).timestamp() * 1000)
        fills = []
        for pair in self.pairs:
            by_order: dict[str, list[dict]] = {}
            for trade in self._trades_since(pair, since):
                by_order.setdefault(str(trade["order"]), []).append(trade)
            for order_id, order_trades in by_order.items():
                fills.append(self._fill_from_trades(pair, order_id, order_trades))
        return fills

    def _trades_since(self, pair: str, since: int) -> list[dict]:
        """Every fill of the account on `pair` since `since`, paged as the exchange needs."""

        def page(start: int | None, limit: int | None, params: dict) -> list[dict]:
            return self._read(
                f"{pair} recent fills", self.api.fetch_my_trades, pair, start, limit, params
            )

        return self.exchange.rules.trades_since(page, since, self._exchange_ms())

    def _fill_from_trades(self, pair: str, order_id: str, trades: list[dict]) -> BrokerFill:
        cid = self._client_ids.get((pair, order_id))
        if cid is None:  # myTrades does not carry the client order id; the order does
            cid = order_client_id(self._fetch(order_id, pair)) or f"exchange-{order_id}"
            self._client_ids[(pair, order_id)] = cid
        return trades_fill(pair, cid, trades, self.fee_rate)

    def open_orders(self) -> list[OpenOrder]:
        found = []
        for pair in self.pairs:
            for order in self._read(f"{pair} open orders", self.api.fetch_open_orders, pair):
                found.append(
                    OpenOrder(
                        client_order_id=order_client_id(order),
                        exchange_order_id=str(order["id"]),
                        pair=pair,
                        side=order["side"],
                        amount=float(order.get("amount") or 0.0),
                        filled=float(order.get("filled") or 0.0),
                        price=float(order.get("price") or 0.0),
                    )
                )
        return found

    def cancel_order(self, order: OpenOrder) -> None:
        self._cancel(order.exchange_order_id, order.pair)

    def cancel_open_orders(self, now: datetime) -> int:
        """Cancel VOLT's own open orders; anyone else's are left alone."""
        own = [order for order in self.open_orders() if order.ours]
        for order in own:
            self.cancel_order(order)
        return len(own)

    def dust(self, pair: str, price: float | None = None) -> float:
        """Less than this cannot be sold; leftovers below it are not a mismatch."""
        market = self.exchange.market(pair)
        return least_sellable(market.get("limits") or {}, price, self._lot_step(market))

    def _lot_step(self, market: dict) -> float:
        """The amount's step (Binance's LOT_SIZE): a sale is rounded down to it."""
        precision = (market.get("precision") or {}).get("amount")
        if precision is None:
            return 0.0
        if self.api.precisionMode == ccxt.TICK_SIZE:
            return float(precision)
        return 10.0 ** -float(precision)


def _now() -> datetime:
    return datetime.now(UTC)
