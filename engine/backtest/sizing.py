"""A plain sizing rule for comparisons with other backtesters: spend a fixed share of the cash,
no stop, no take-profit. VOLT itself always trades through `RiskGate`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from data.types import PortfolioView
from risk import OrderIntent, RiskRejection


@dataclass(frozen=True)
class Sized:
    amount: float
    stop_loss: float = 0.0  # never reached: prices stay above 0
    take_profit: float = math.inf


@dataclass(frozen=True)
class CashShareSizing:
    share: float
    fee_rate: float
    slippage_rate: float

    def approve(self, intent: OrderIntent, book: PortfolioView) -> Sized:
        if book.positions:
            raise RiskRejection(f"{intent.pair}: one position at a time")
        cost_per_unit = intent.price * (1 + self.slippage_rate) * (1 + self.fee_rate)
        return Sized(book.cash * self.share / cost_per_unit)


@dataclass(frozen=True)
class FixedAmount:
    """The same amount every entry, whatever the equity (benches over long spans)."""

    amount: float

    def approve(self, intent: OrderIntent, book: PortfolioView) -> Sized:
        if book.positions:
            raise RiskRejection(f"{intent.pair}: one position at a time")
        return Sized(self.amount)
