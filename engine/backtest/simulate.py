"""The one sequential part of a backtest: positions, cash, stops and risk, over plain arrays.

It replays what `Trader.tick` does on each candle, pair by pair in the configured order:
check the open position's stop and take-profit on the candle (the cautious rule: when one
candle spans both, the stop came first), then act on the decision at the candle's close
through the same `RiskGate` and the paper broker's own fill arithmetic. Candles where
nothing can happen are jumped over (a pair is flat and not told to buy, or holds and
neither its stop, its take-profit nor a sell is reached), so the loop costs per trade and
per buy signal, not per candle.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from data.types import OpenPosition, PortfolioView
from engine.backtest.signals import PairSignals
from engine.paper_exchange import paper_fill
from risk import OrderIntent, RiskRejection

SEARCH_CHUNK = 512  # candles scanned at a time for a position's next exit


@dataclass(frozen=True)
class Costs:
    fee_rate: float
    slippage_rate: float


@dataclass
class SimTrade:
    pair: str
    entry_row: int
    exit_row: int
    amount: float
    entry_price: float
    exit_price: float
    entry_fee: float
    exit_fee: float
    exit_reason: str

    @property
    def fees(self) -> float:
        return self.entry_fee + self.exit_fee

    @property
    def cost(self) -> float:
        return self.amount * self.entry_price + self.entry_fee

    @property
    def pnl(self) -> float:
        # As `book.record_exit` books it: proceeds less cost, fees on both sides.
        return (self.amount * self.exit_price - self.exit_fee) - self.cost

    @property
    def pnl_pct(self) -> float:
        return self.pnl / self.cost if self.cost else 0.0


@dataclass
class _Held:
    amount: float
    entry_price: float
    entry_fee: float
    stop_loss: float
    take_profit: float
    entry_row: int


@dataclass
class Simulation:
    trades: list[SimTrade]
    open_positions: dict[str, _Held]
    cash_changes: np.ndarray  # cash moved by fills at each row
    held: dict[str, np.ndarray]  # amount held at each row's close, per pair
    rejections: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def simulate(
    pairs: list[str],
    signals: dict[str, PairSignals],
    first: int,
    gate,
    costs: Costs,
    starting_cash: float,
    progress: Callable[[float], None] | None = None,
) -> Simulation:
    """`gate` is anything with RiskGate's `approve(intent, PortfolioView)`; VOLT's own gate
    for a backtest of the bot, a plain sizing rule only for comparisons with other tools."""
    n = len(signals[pairs[0]].close)
    arrays = {pair: signals[pair] for pair in pairs}
    buys = {pair: np.flatnonzero(arrays[pair].action[:n] == 1) for pair in pairs}
    cash = starting_cash
    cash_changes = np.zeros(n)
    held: dict[str, _Held] = {}
    trades: list[SimTrade] = []
    holding_spans: dict[str, list[tuple[int, int, float]]] = {pair: [] for pair in pairs}
    rejections: dict[str, int] = {}
    order = {pair: i for i, pair in enumerate(pairs)}
    events: list[tuple[int, int]] = []

    def next_buy(pair: str, row: int) -> int | None:
        rows = buys[pair]
        at = int(np.searchsorted(rows, row))
        return int(rows[at]) if at < len(rows) else None

    def next_exit(pair: str, row: int) -> int | None:
        s, position = arrays[pair], held[pair]
        while row < n:
            end = min(n, row + SEARCH_CHUNK)
            hit = (
                (s.low[row:end] <= position.stop_loss)
                | (s.high[row:end] >= position.take_profit)
                | (s.action[row:end] == -1)
            )
            found = np.flatnonzero(hit)
            if len(found):
                return row + int(found[0])
            row = end
        return None

    def schedule(pair: str, row: int | None) -> None:
        if row is not None and row < n:
            heapq.heappush(events, (row, order[pair]))

    def mark(pair: str, row: int, pair_index: int) -> float:
        # Live marks a pair at its latest close: this candle's for pairs already ticked.
        return arrays[pair].close[row if order[pair] <= pair_index else row - 1]

    def close_position(pair: str, row: int, price: float, reason: str) -> None:
        nonlocal cash
        position = held.pop(pair)
        fill_price, fee = paper_fill(
            "sell", price, position.amount, costs.fee_rate, costs.slippage_rate
        )
        value = position.amount * fill_price
        cash += value - fee
        cash_changes[row] += value - fee
        trades.append(
            SimTrade(
                pair,
                position.entry_row,
                row,
                position.amount,
                position.entry_price,
                fill_price,
                position.entry_fee,
                fee,
                reason,
            )
        )
        holding_spans[pair].append((position.entry_row, row, position.amount))

    def try_entry(pair: str, row: int) -> bool:
        nonlocal cash
        s = arrays[pair]
        price = float(s.close[row])
        index = order[pair]
        value = sum(p.amount * mark(q, row, index) for q, p in held.items())
        views = {
            q: OpenPosition(q, p.amount, p.entry_price, p.entry_fee, p.stop_loss, p.take_profit)
            for q, p in held.items()
        }
        intent = OrderIntent(pair, "buy", price, "", "signal", atr=float(s.atr[row]))
        try:
            approved = gate.approve(intent, PortfolioView(cash + value, cash, views))
        except RiskRejection as rejection:
            reason = str(rejection).split(": ", 1)[-1].split(" (")[0]
            rejections[reason] = rejections.get(reason, 0) + 1
            return False
        fill_price, fee = paper_fill(
            "buy", price, approved.amount, costs.fee_rate, costs.slippage_rate
        )
        spend = approved.amount * fill_price + fee
        cash -= spend
        cash_changes[row] -= spend
        held[pair] = _Held(
            approved.amount,
            fill_price,
            fee,
            approved.stop_loss,
            approved.take_profit,
            row,
        )
        return True

    for pair in pairs:
        schedule(pair, next_buy(pair, first))
    report_every = max(1, (n - first) // 50)
    reported = first
    while events:
        row, index = heapq.heappop(events)
        pair = pairs[index]
        s = arrays[pair]
        position = held.get(pair)
        if position is not None:
            if s.low[row] <= position.stop_loss:
                close_position(pair, row, min(s.open[row], position.stop_loss), "stop_loss")
            elif s.high[row] >= position.take_profit:
                close_position(pair, row, max(s.open[row], position.take_profit), "take_profit")
            elif s.action[row] == -1:
                close_position(pair, row, float(s.close[row]), "signal")
        if pair not in held and s.action[row] == 1:
            try_entry(pair, row)
        if pair in held:
            schedule(pair, next_exit(pair, row + 1))
        else:
            schedule(pair, next_buy(pair, row + 1))
        if progress is not None and row - reported >= report_every:
            reported = row
            progress((row - first) / max(1, n - first))

    amounts = {}
    for pair in pairs:
        delta = np.zeros(n + 1)
        for entry, exit_row, amount in holding_spans[pair]:
            delta[entry] += amount
            delta[exit_row] -= amount
        if pair in held:
            delta[held[pair].entry_row] += held[pair].amount
        amounts[pair] = np.cumsum(delta)[:n]
    return Simulation(trades, held, cash_changes, amounts, sum(rejections.values()), rejections)


def equity_curve(
    simulation: Simulation, signals: dict[str, PairSignals], starting_cash: float
) -> np.ndarray:
    """Cash plus positions at each candle's close, after that candle's fills."""
    equity = starting_cash + np.cumsum(simulation.cash_changes)
    for pair, amounts in simulation.held.items():
        equity = equity + amounts * signals[pair].close
    return equity
