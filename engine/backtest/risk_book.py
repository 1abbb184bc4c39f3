"""What the live loop's protections read from its database, kept in memory for a backtest.

Live, `risk_records.risk_context` reads peak equity (since the last drawdown pause),
the day's starting equity, recent trades, the last hour's entries and the stored locks;
`Approval.review_protections` stores a lock at the end of every tick, and a stored lock
keeps blocking until its end even once its rule would clear. This book keeps the same
facts per candle, over plain arrays: an equity snapshot per candle close, and reviews at
the candles where a lock can start. Those are the candles with a fill, and, while a
position is held, the candles whose equity reaches the drawdown or daily loss limit (a
vectorised filter finds them; the real protections then decide). The same Protection
classes and `RiskGate.blocks` judge every entry, so a backtest blocks exactly when live does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from engine.trading.risk_records import RECENT_TRADES
from risk import ClosedTrade, RiskContext
from risk.context import (
    HOUR,
    LockKey,
    drawdown_reset,
    entries_in_last_hour,
    latch_locks,
    peak_equity,
    running_locks,
)
from risk.protections import Block, DailyLossLimit, MaxDrawdown

DAY = 86_400
EDGE = 1e-12  # the vectorised filter lets through a hair more than the rules' own limits


class RiskBook:
    def __init__(self, gate, pairs: list[str], closes: np.ndarray, first: int) -> None:
        """`closes`: each candle's close in epoch seconds (when live decides on it)."""
        self.gate = gate
        self.pairs = pairs
        self.closes = closes
        self.first = first
        self.equity = np.full(len(closes), np.nan)  # the snapshot live stores each tick
        self.filled = first  # snapshots exist for rows [first, filled)
        self.trades: deque[ClosedTrade] = deque(maxlen=RECENT_TRADES)
        self.entries: deque[datetime] = deque()
        self.locks: dict[LockKey, Block] = {}
        self.drawdown_ends: list[datetime] = []
        self.peak_from, self.peak_to, self.peak = first, first, -np.inf
        self.drawdown = _find(gate.protections, MaxDrawdown)
        self.daily = _find(gate.protections, DailyLossLimit)
        self.blocked: dict[str, int] = {}  # entries refused, by the first protection to say no
        # Every lock started, as live stores them: (protection, pair, start, end).
        self.started: list[tuple[str, str | None, datetime, datetime]] = []

    def time(self, row: int) -> datetime:
        return datetime.fromtimestamp(int(self.closes[row]), UTC)

    def row_at(self, ts: datetime) -> int:
        # An int: a float key would make numpy convert the whole array on every search.
        return int(np.searchsorted(self.closes, int(ts.timestamp()), "left"))

    # --- what happened --------------------------------------------------------------
    def entered(self, row: int) -> None:
        self.entries.append(self.time(row))

    def exited(self, pair: str, row: int, pnl: float, reason: str) -> None:
        self.trades.append(ClosedTrade(pair, self.time(row), pnl, reason))

    def refused(self, blocks) -> None:
        name = blocks[0].protection
        self.blocked[name] = self.blocked.get(name, 0) + 1

    # --- snapshots and reviews ------------------------------------------------------
    def snapshot(self, a: int, b: int, cash: float, holdings: list[tuple[float, np.ndarray]]):
        """Rows [a, b) with nothing filled: equity as `book.snapshot_equity` sums it."""
        value = np.zeros(b - a)
        for amount, close in holdings:
            value = value + amount * close[a:b]
        self.equity[a:b] = cash + value
        self.filled = b

    def review(self, row: int, values: dict[str, float]) -> None:
        """`Approval.review_protections` at the end of the tick of `row`."""
        context = self.context(row, float(self.equity[row]), values, seen=row + 1)
        blocks = [b for pair in self.pairs for b in self.gate.blocks(replace(context, pair=pair))]
        before = self.locks
        self.locks = latch_locks(before, blocks, context.now)
        for key, lock in self.locks.items():
            if before.get(key) is not lock:
                self.started.append((lock.protection, lock.pair, context.now, lock.until))
                if lock.protection == "max_drawdown":
                    self.drawdown_ends.append(lock.until)

    def watch(self, a: int, b: int, values_at) -> None:
        """Rows [a, b), already snapshotted, a position held all along: review the rows
        where equity reaches the drawdown or daily loss limit, as live's every tick would."""
        row = a
        while row < b:
            end = b
            lock = self.locks.get(("max_drawdown", None))
            if lock is not None and row < self.row_at(lock.until) < b:
                end = self.row_at(lock.until)  # the peak is measured afresh from there
            hits = self._candidates(row, end)
            if not len(hits):
                self._peak_upto(self.time(end - 1), end)
                row = end
                continue
            hit = row + int(hits[0])
            self.review(hit, values_at(hit))
            row = hit + 1

    def _candidates(self, a: int, b: int) -> np.ndarray:
        self._peak_upto(self.time(a), a)
        equity = self.equity[a:b]
        hit = np.zeros(b - a, dtype=bool)
        now = self.closes[a:b]
        if self.drawdown is not None and not self._locked("max_drawdown", self.time(a)):
            peaks = np.maximum(np.maximum.accumulate(equity), self.peak)
            with np.errstate(divide="ignore", invalid="ignore"):
                hit |= (peaks > 0) & (1 - equity / peaks >= self.drawdown.limit - EDGE)
        if self.daily is not None:
            start = self._day_starts(now)
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = (start - equity) / start
            lock = self.locks.get(("daily_loss_limit", None))
            free = now >= lock.until.timestamp() if lock else True
            hit |= (start > 0) & (loss >= self.daily.limit - EDGE) & free
        return np.flatnonzero(hit)

    def _locked(self, name: str, now: datetime) -> bool:
        lock = self.locks.get((name, None))
        return lock is not None and lock.until > now

    # --- the context ----------------------------------------------------------------
    def context(
        self, row: int, equity: float, values: dict[str, float], seen: int | None = None
    ) -> RiskContext:
        """What `risk_context` reads at `row`'s close; snapshots of rows before `seen`
        exist (live snapshots a tick at its end, after its decisions)."""
        seen = row if seen is None else seen
        now = self.time(row)
        return RiskContext(
            now=now,
            equity=equity,
            exposure=sum(values.values()),
            pair_exposure=values,
            peak_equity=peak_equity(equity, self._peak_upto(now, seen)),
            day_start_equity=self._day_start(now, seen, equity),
            recent_trades=tuple(self.trades),
            recent_entries=self._recent_entries(now),
            locks=running_locks(self.locks.values(), now),
        )

    def _recent_entries(self, now: datetime) -> tuple[datetime, ...]:
        while self.entries and self.entries[0] <= now - HOUR:
            self.entries.popleft()  # never needed again: time only moves on
        return entries_in_last_hour(self.entries, now)

    def _peak_upto(self, now: datetime, seen: int) -> float | None:
        """The highest snapshot in rows [reset, seen): kept as a running max."""
        reset = drawdown_reset(self.drawdown_ends, now)
        start = max(self.first, self.row_at(reset)) if reset else self.first
        if start > self.peak_from:
            self.peak_from, self.peak_to, self.peak = start, start, -np.inf
        if seen > self.peak_to:
            self.peak = max(self.peak, float(self.equity[self.peak_to : seen].max()))
            self.peak_to = seen
        return None if self.peak == -np.inf else self.peak

    def _day_start(self, now: datetime, seen: int, equity: float) -> float:
        """The last snapshot before midnight; else the day's first; else equity now."""
        day = int(now.timestamp()) // DAY * DAY
        before = int(np.searchsorted(self.closes, day, "left")) - 1
        if before >= self.first:
            return float(self.equity[before])
        first_today = max(self.first, before + 1)
        return float(self.equity[first_today]) if first_today < seen else equity

    def _day_starts(self, now: np.ndarray) -> np.ndarray:
        """`_day_start` for rows already snapshotted, at once."""
        before = np.searchsorted(self.closes, now // DAY * DAY, "left") - 1
        rows = np.where(before >= self.first, before, np.maximum(self.first, before + 1))
        return self.equity[rows]


def _find(protections, kind):
    return next((p for p in protections if isinstance(p, kind)), None)
