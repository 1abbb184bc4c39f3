"""The pure parts of building a `RiskContext`, shared by the live loop (which reads them from
its database) and backtests (which keep them in memory): so both judge an entry alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from risk.protections import Block

LockKey = tuple[str, str | None]  # (protection, pair or None for every pair)
HOUR = timedelta(hours=1)


def position_values(positions: Mapping, marks: Mapping[str, float]) -> dict[str, float]:
    """Each open position at its latest price (its entry price until one is seen)."""
    return {pair: p.amount * marks.get(pair, p.entry_price) for pair, p in positions.items()}


def peak_equity(equity: float, peak_since_reset: float | None) -> float:
    return max(equity, peak_since_reset or 0.0)


def drawdown_reset(drawdown_lock_ends: Iterable[datetime], now: datetime) -> datetime | None:
    """After a drawdown pause the peak is measured afresh from its end, or the lock would
    return at once: the latest end already passed, or None."""
    return max((end for end in drawdown_lock_ends if end <= now), default=None)


def entries_in_last_hour(entries: Iterable[datetime], now: datetime) -> tuple[datetime, ...]:
    return tuple(ts for ts in entries if ts > now - HOUR)


def running_locks(locks: Iterable[Block], now: datetime) -> tuple[Block, ...]:
    """Stored locks with time still to run. Condition locks (no end time) are never trusted
    from storage: their protection answers afresh each time."""
    return tuple(lock for lock in locks if lock.until is not None and lock.until > now)


def latch_locks(
    stored: Mapping[LockKey, Block], blocks: Iterable[Block], now: datetime
) -> dict[LockKey, Block]:
    """The trusted locks after a review, as `sync_locks` leaves them: a running lock keeps
    its end time (a drawdown pause must not slide forward) even once its rule would clear;
    ended ones go; a new timed block starts a lock."""
    kept = {key: lock for key, lock in stored.items() if lock.until and lock.until > now}
    for block in blocks:
        if block.until is not None and block.until > now:
            kept.setdefault((block.protection, block.pair), block)
    return kept
