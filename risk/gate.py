"""The risk gate: position sizing, stops, exposure limits and protections for every order."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from data.types import PortfolioView
from risk.costs import round_trip_cost, target_shortfall
from risk.protections import Block, Protection, RiskContext

_SEAL = object()
CASH_MARGIN = 1e-6  # only this module can mint an ApprovedOrder a broker will take
TARGET_UNDER_COSTS = "target under costs"  # the rule's name in a backtest's refusal counts


class RiskRejection(Exception):
    """An order the risk limits refuse; the message says which limit and why."""

    def __init__(self, message: str, blocks: Sequence[Block] = (), rule: str = "") -> None:
        super().__init__(message)
        self.blocks = tuple(blocks)
        self.rule = rule  # a short name to count refusals by, when the message varies


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
    max_total_exposure: float = 1.0
    regime_stop_scale: dict[str, float] = field(default_factory=dict)  # regime -> scale
    trailing_stop_atr_multiple: float = 0.0  # 0: no trailing stop
    # The take-profit distance must be at least this many round-trip costs (fees and
    # slippage, both sides); 0 switches the rule off (the settings ask for at least 1).
    min_target_to_cost: float = 0.0

    @property
    def round_trip_cost(self) -> float:
        return round_trip_cost(self.fee_rate, self.slippage_rate)


@dataclass(frozen=True)
class OrderIntent:
    pair: str
    side: str  # "buy" opens a long, "sell" closes it
    price: float
    client_order_id: str
    reason: str
    atr: float = math.nan
    decision_id: int | None = None
    regime: str = "normal"


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
    trail_distance: float = 0.0  # 0: no trailing stop
    _seal: object = field(default=None, repr=False, compare=False)

    @property
    def approved(self) -> bool:
        return self._seal is _SEAL


class RiskGate:
    def __init__(self, limits: RiskLimits, protections: Sequence[Protection] = ()) -> None:
        self.limits = limits
        self.protections = tuple(protections)

    def protective_levels(
        self, price: float, atr: float, regime: str = "normal"
    ) -> tuple[float, float]:
        """Stop loss and take profit for a long entered at `price`: nearer in wild markets."""
        scale = self.limits.regime_stop_scale.get(regime, 1.0)
        return (
            price - self.limits.stop_atr_multiple * scale * atr,
            price + self.limits.take_profit_atr_multiple * scale * atr,
        )

    def trail_distance(self, atr: float, regime: str = "normal") -> float:
        scale = self.limits.regime_stop_scale.get(regime, 1.0)
        return self.limits.trailing_stop_atr_multiple * scale * atr

    def blocks(self, context: RiskContext) -> list[Block]:
        """Everything that stops an entry for `context.pair` now: stored locks still running,
        then each protection not already answered by such a lock."""
        locks = [
            lock
            for lock in context.locks
            if lock.applies_to(context.pair) and (lock.until is None or lock.until > context.now)
        ]
        locked = {lock.protection for lock in locks}
        found = list(locks)
        for protection in self.protections:
            if protection.name in locked:
                continue
            block = protection.check(context)
            if block is not None and block.applies_to(context.pair):
                found.append(block)
        return found

    def approve(
        self, intent: OrderIntent, book: PortfolioView, context: RiskContext | None = None
    ) -> ApprovedOrder:
        """Every order passes here. Without a context the rules still run, on what the book
        alone says (no history): the engine always gives one."""
        if intent.side == "sell":
            return self._approve_exit(intent, book)
        if intent.side == "buy":
            if context is None:
                context = RiskContext(
                    now=datetime.now(UTC), equity=book.equity, exposure=book.equity - book.cash
                )
            return self._approve_entry(intent, book, replace(context, pair=intent.pair))
        raise RiskRejection(f"{intent.pair}: unknown order side {intent.side!r}")

    def check_entry(self, intent: OrderIntent, book: PortfolioView, context: RiskContext) -> None:
        """Raise the RiskRejection `approve` would give this entry; approve nothing. It
        sorts decisions before any order is sent: an entry that passes is approved later,
        by `approve`, on the book as it stands then."""
        self._approve_entry(intent, book, replace(context, pair=intent.pair))

    def _approve_exit(self, intent: OrderIntent, book: PortfolioView) -> ApprovedOrder:
        # Exits are always allowed: they only reduce risk. No protection is consulted.
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

    def _approve_entry(
        self, intent: OrderIntent, book: PortfolioView, context: RiskContext
    ) -> ApprovedOrder:
        limits = self.limits
        pair = intent.pair
        blocks = self.blocks(context)
        if blocks:
            raise RiskRejection(f"{pair}: {blocks[0].describe()}", blocks)
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

        stop_loss, take_profit = self.protective_levels(intent.price, intent.atr, intent.regime)
        stop_distance = intent.price - stop_loss
        if stop_loss <= 0:
            raise RiskRejection(f"{pair}: stop distance {stop_distance:.4g} exceeds the price")
        shortfall = target_shortfall(
            intent.price, take_profit, stop_loss, limits.round_trip_cost, limits.min_target_to_cost
        )
        if shortfall is not None:
            raise RiskRejection(f"{pair}: {shortfall}", rule=TARGET_UNDER_COSTS)
        # Sized from the normal stop distance (or the stop's, if a regime widens it): a
        # tightened stop must not buy more, since a wild market can gap straight through it.
        sizing_distance = max(stop_distance, limits.stop_atr_multiple * intent.atr)
        amount = book.equity * limits.risk_per_trade / sizing_distance
        fill_cost_per_unit = intent.price * (1 + limits.slippage_rate) * (1 + limits.fee_rate)
        max_by_size = book.equity * limits.max_position_fraction / fill_cost_per_unit
        exposure_room = limits.max_total_exposure * book.equity - (book.equity - book.cash)
        max_by_exposure = max(0.0, exposure_room) / fill_cost_per_unit
        # A hair under the cash: the broker's own arithmetic must never find it short.
        max_by_cash = book.buying_power / fill_cost_per_unit * (1 - CASH_MARGIN)
        max_by_cap = limits.max_order_value / intent.price * (1 - CASH_MARGIN)
        amount = min(amount, max_by_size, max_by_exposure, max_by_cash, max_by_cap)
        if amount * intent.price < limits.min_order_value:
            raise RiskRejection(
                f"{pair}: order value {amount * intent.price:.2f} is below the minimum "
                f"{limits.min_order_value:.2f} (cash {book.buying_power:.2f}, "
                f"room under the exposure limit {max(0.0, exposure_room):.2f})"
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
            trail_distance=self.trail_distance(intent.atr, intent.regime),
            _seal=_SEAL,
        )
