"""The one sequential part of a backtest: positions, cash, stops and risk, over plain arrays.

It replays what `Trader.tick` does on each candle, pair by pair in the configured order:
check the open position's stop and take-profit on the candle (the cautious rule: when one
candle spans both, the stop came first; such candles are counted), then act on the decision
at the candle's close through the same `RiskGate` and the paper broker's own fill
arithmetic, priced where the fill model fills it: at the next candle's open by default
(`fills`), or at that close. Live approves and sends an order the moment its candle
closes, when the next candle's first price is the market's: the gate sizes, sets the stops
and weighs the costs on that price here too. Candles where
nothing can happen are jumped over (a pair is flat and not told to buy, or holds and
neither its stop, its take-profit nor a sell is reached), so the loop costs per trade and
per buy signal, not per candle.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agents.regime import REGIMES
from data.types import OpenPosition, PortfolioView
from engine.backtest.risk_book import RiskBook
from engine.backtest.signals import PairSignals
from engine.venues.paper import paper_fill
from risk import OrderIntent, RiskGate, RiskRejection
from risk.stops import stop_exit, stop_reason, trail, trail_path

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
    trail_distance: float = 0.0  # 0: no trailing stop
    peak: float | None = None  # the highest price since entry, while trailing


@dataclass
class Simulation:
    trades: list[SimTrade]
    open_positions: dict[str, _Held]
    cash_changes: np.ndarray  # cash moved by fills at each row
    held: dict[str, np.ndarray]  # amount held at each row's close, per pair
    rejections: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    unfilled: int = 0  # decisions on the last candle: no next open to fill at
    both_touched: int = 0  # exit candles that met the stop and the take-profit: stop taken
    blocked: dict[str, int] = field(default_factory=dict)  # entries a protection refused
    locks: list[tuple] = field(default_factory=list)  # (protection, pair, start, end)


def simulate(
    pairs: list[str],
    signals: dict[str, PairSignals],
    first: int,
    gate,
    costs: Costs,
    starting_cash: float,
    progress: Callable[[float], None] | None = None,
    closes: np.ndarray | None = None,
    fills: dict[str, np.ndarray] | None = None,
) -> Simulation:
    """`gate` is anything with RiskGate's `approve(intent, PortfolioView)`; VOLT's own gate
    for a backtest of the bot, a plain sizing rule only for comparisons with other tools.
    With VOLT's gate and `closes` (each candle's close, epoch seconds) its protections judge
    every entry on the context live would read (see risk_book.py). `fills`: per pair, the
    price a decision on each row fills from before slippage (the next open; NaN where there
    is no next candle: that decision does not fill); None fills at each row's close."""
    n = len(signals[pairs[0]].close)
    arrays = {pair: signals[pair] for pair in pairs}
    fill_from = fills or {pair: arrays[pair].close for pair in pairs}
    unfilled = both_touched = 0
    buys = {pair: np.flatnonzero(arrays[pair].action[:n] == 1) for pair in pairs}
    cash = starting_cash
    cash_changes = np.zeros(n)
    held: dict[str, _Held] = {}
    trades: list[SimTrade] = []
    holding_spans: dict[str, list[tuple[int, int, float]]] = {pair: [] for pair in pairs}
    rejections: dict[str, int] = {}
    order = {pair: i for i, pair in enumerate(pairs)}
    events: list[tuple[int, int]] = []
    guarded = isinstance(gate, RiskGate) and closes is not None
    risk = RiskBook(gate, pairs, closes, first) if guarded else None

    def next_buy(pair: str, row: int) -> int | None:
        rows = buys[pair]
        at = int(np.searchsorted(rows, row))
        return int(rows[at]) if at < len(rows) else None

    def next_exit(pair: str, row: int) -> int | None:
        """The next candle that stops, takes profit or sells; a trailing position's stop
        there (and the peak behind it) is left on the position for `check_stops`."""
        s, position = arrays[pair], held[pair]
        while row < n:
            end = min(n, row + SEARCH_CHUNK)
            stop = position.stop_loss
            if position.trail_distance:
                stops, peaks = trail_path(
                    position.stop_loss, position.peak, position.trail_distance, s.high[row:end]
                )
                stop = stops[:-1]
            hit = (
                (s.low[row:end] <= stop)
                | (s.high[row:end] >= position.take_profit)
                | (s.action[row:end] == -1)
            )
            found = np.flatnonzero(hit)
            at = int(found[0]) if len(found) else end - row
            if position.trail_distance:
                position.stop_loss, position.peak = float(stops[at]), float(peaks[at])
            if len(found):
                return row + at
            row = end
        return None

    def schedule(pair: str, row: int | None) -> None:
        if row is not None and row < n:
            heapq.heappush(events, (row, order[pair]))

    def values_at(row: int) -> dict[str, float]:
        # Live fetches every pair before it acts on any: each is marked at this close.
        return {q: p.amount * arrays[q].close[row] for q, p in held.items()}

    def close_position(pair: str, row: int, price: float, reason: str) -> None:
        nonlocal cash, filled_now
        position = held.pop(pair)
        fill_price, fee = paper_fill(
            "sell", price, position.amount, costs.fee_rate, costs.slippage_rate
        )
        value = position.amount * fill_price
        cash += value - fee
        cash_changes[row] += value - fee
        trade = SimTrade(
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
        trades.append(trade)
        holding_spans[pair].append((position.entry_row, row, position.amount))
        filled_now = True
        if risk is not None:
            risk.exited(pair, row, trade.pnl, reason)

    def check_stops(pair: str, row: int) -> None:
        """`Stops.check` (engine.trading.stops) on one candle, with the same functions."""
        nonlocal both_touched
        s, position = arrays[pair], held[pair]
        hit = stop_exit(
            s.open[row], s.high[row], s.low[row], position.stop_loss, position.take_profit
        )
        if hit is None:
            if position.trail_distance:
                position.stop_loss, position.peak = trail(
                    position.stop_loss, position.peak, position.trail_distance, float(s.high[row])
                )
            return
        price, reason = hit
        both_touched += bool(
            s.high[row] >= position.take_profit and s.low[row] <= position.stop_loss
        )
        if reason == "stop_loss":
            reason = stop_reason(
                position.stop_loss, position.entry_price, position.peak, position.trail_distance
            )
        close_position(pair, row, float(price), reason)

    def try_entry(pair: str, row: int) -> bool:
        nonlocal cash, filled_now, unfilled
        s = arrays[pair]
        price = float(fill_from[pair][row])  # approved where it fills, as live approves it
        if price != price:  # NaN: the last candle, no next open to fill at
            unfilled += 1
            return False
        values = values_at(row)
        views = {
            q: OpenPosition(q, p.amount, p.entry_price, p.entry_fee, p.stop_loss, p.take_profit)
            for q, p in held.items()
        }
        regime = REGIMES[int(s.regime[row])]
        intent = OrderIntent(pair, "buy", price, "", "signal", atr=float(s.atr[row]), regime=regime)
        book = PortfolioView(cash + sum(values.values()), cash, views)
        try:
            if risk is None:
                approved = gate.approve(intent, book)
            else:
                approved = gate.approve(intent, book, risk.context(row, book.equity, values))
        except RiskRejection as rejection:
            if rejection.blocks and risk is not None:
                risk.refused(rejection.blocks)
                reason = rejection.blocks[0].protection
            else:
                reason = rejection.rule or str(rejection).split(": ", 1)[-1].split(" (")[0]
            rejections[reason] = rejections.get(reason, 0) + 1
            return False
        fill_price, fee = paper_fill(
            "buy", price, approved.amount, costs.fee_rate, costs.slippage_rate
        )
        spend = approved.amount * fill_price + fee
        cash -= spend
        cash_changes[row] -= spend
        trail_distance = getattr(approved, "trail_distance", 0.0)
        held[pair] = _Held(
            approved.amount,
            fill_price,
            fee,
            approved.stop_loss,
            approved.take_profit,
            row,
            trail_distance,
            fill_price if trail_distance else None,
        )
        filled_now = True
        if risk is not None:
            risk.entered(row)
        return True

    def close_rows(row: int) -> None:
        """Live ends each tick with a snapshot and a review: catch up to `row`."""
        nonlocal current, filled_now
        holdings = [(p.amount, arrays[q].close) for q, p in held.items()]
        quiet = current
        if filled_now:
            risk.snapshot(current, current + 1, cash, holdings)
            risk.review(current, values_at(current))
            quiet = current + 1
        if quiet < row:
            risk.snapshot(quiet, row, cash, holdings)
            if held:
                risk.watch(quiet, row, values_at)
        current, filled_now = row, False

    for pair in pairs:
        schedule(pair, next_buy(pair, first))
    report_every = max(1, (n - first) // 50)
    reported = first
    current, filled_now = first, False
    while events:
        row, index = heapq.heappop(events)
        if risk is not None and row > current:
            close_rows(row)
        pair = pairs[index]
        s = arrays[pair]
        if pair in held:
            check_stops(pair, row)
            if pair in held and s.action[row] == -1:
                market = float(fill_from[pair][row])
                if market == market:
                    close_position(pair, row, market, "signal")
                else:
                    unfilled += 1
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
    blocked = dict(risk.blocked) if risk is not None else {}
    locks = list(risk.started) if risk is not None else []
    return Simulation(
        trades,
        held,
        cash_changes,
        amounts,
        sum(rejections.values()),
        rejections,
        unfilled,
        both_touched,
        blocked,
        locks,
    )


def equity_curve(
    simulation: Simulation, signals: dict[str, PairSignals], starting_cash: float
) -> np.ndarray:
    """Cash plus positions at each candle's close, after that candle's fills."""
    equity = starting_cash + np.cumsum(simulation.cash_changes)
    for pair, amounts in simulation.held.items():
        equity = equity + amounts * signals[pair].close
    return equity
