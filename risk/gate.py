"""Position sizing from risk per trade and stop distance; stops; exposure limits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from data.types import PortfolioView

_SEAL = object()
CASH_MARGIN = 1e-6  # only this module can mint an ApprovedOrder a broker will take


class RiskRejection(Exception):
    """An order the risk limits refuse; the message says which limit and why."""


@dataclass(frozen=True)
class RiskLimits:
    risk_per_trade: float
    stop_atr_multiple: float
    take_profit_atr_multiple: float
    max_position_fraction: float
    max_open_positions: int
    min_order_value: float
    fee_rate: float
    slippage_rate: float
    max_order_value: float = math.inf  # the exchange broker's hard cap per buy


@dataclass(frozen=True)
class OrderIntent:
    pair: str
    side: str  # "buy" opens a long, "sell" closes it
    price: float
    client_order_id: str
    reason: str
    atr: float = math.nan
    decision_id: int | None = None


@dataclass(frozen=True)
class ApprovedOrder:
    pair: str
    side: str
    amount: float
    price: float
    client_order_id: str
    reason: str
    stop_loss: float = 0.0
    take_profit: float = 0.0
    decision_id: int | None = None
    order_type: str = "market"  # or "limit" at `price`
    _seal: object = field(default=None, repr=False, compare=False)

    @property
    def approved(self) -> bool:
        return self._seal is _SEAL


class RiskGate:
    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits

    def protective_levels(self, price: float, atr: float) -> tuple[float, float]:
        """Stop loss and take profit for a long entered at `price`."""
        return (
            price - self.limits.stop_atr_multiple * atr,
            price + self.limits.take_profit_atr_multiple * atr,
        )

    def approve(self, intent: OrderIntent, book: PortfolioView) -> ApprovedOrder:
        if intent.side == "sell":
            return self._approve_exit(intent, book)
        if intent.side == "buy":
            return self._approve_entry(intent, book)
        raise RiskRejection(f"{intent.pair}: unknown order side {intent.side!r}")

    def _approve_exit(self, intent: OrderIntent, book: PortfolioView) -> ApprovedOrder:
        # Exits are always allowed: they only reduce risk.
        position = book.positions.get(intent.pair)
        if position is None or position.amount <= 0:
            raise RiskRejection(f"{intent.pair}: no open position to sell")
        return ApprovedOrder(
            intent.pair,
            "sell",
            position.amount,
            intent.price,
            intent.client_order_id,
            intent.reason,
            decision_id=intent.decision_id,
            _seal=_SEAL,
        )

    def _approve_entry(self, intent: OrderIntent, book: PortfolioView) -> ApprovedOrder:
        limits = self.limits
        pair = intent.pair
        if pair in book.positions:
            raise RiskRejection(f"{pair}: a position is already open (no adding to positions)")
        if len(book.positions) >= limits.max_open_positions:
            raise RiskRejection(
                f"{pair}: max open positions reached ({len(book.positions)} of "
                f"{limits.max_open_positions})"
            )
        if not (intent.atr > 0 and math.isfinite(intent.atr)):
            raise RiskRejection(f"{pair}: no ATR yet, so no stop distance to size from")
        if book.equity <= 0:
            raise RiskRejection(f"{pair}: equity is {book.equity:.2f}; nothing to risk")

        stop_loss, take_profit = self.protective_levels(intent.price, intent.atr)
        stop_distance = intent.price - stop_loss
        if stop_loss <= 0:
            raise RiskRejection(f"{pair}: stop distance {stop_distance:.4g} exceeds the price")
        amount = book.equity * limits.risk_per_trade / stop_distance
        fill_cost_per_unit = intent.price * (1 + limits.slippage_rate) * (1 + limits.fee_rate)
        max_by_size = book.equity * limits.max_position_fraction / fill_cost_per_unit
        # A hair under the cash: the broker's own arithmetic must never find it short.
        max_by_cash = book.cash / fill_cost_per_unit * (1 - CASH_MARGIN)
        max_by_cap = limits.max_order_value / intent.price * (1 - CASH_MARGIN)
        amount = min(amount, max_by_size, max_by_cash, max_by_cap)
        if amount * intent.price < limits.min_order_value:
            raise RiskRejection(
                f"{pair}: order value {amount * intent.price:.2f} is below the minimum "
                f"{limits.min_order_value:.2f} (cash {book.cash:.2f})"
            )
        return ApprovedOrder(
            pair,
            "buy",
            amount,
            intent.price,
            intent.client_order_id,
            intent.reason,
            stop_loss=stop_loss,
            take_profit=take_profit,
            decision_id=intent.decision_id,
            _seal=_SEAL,
        )
