"""What the risk gate reads from and leaves in the database: the context its protections
judge, the locks they start (kept across restarts), and every rejected order."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from data.store.commands import kill_in_force_id
from data.store.db import as_utc, core, transaction
from data.store.equity_peak import account_reset, peak_mark, stored_peak
from data.store.models import (
    EngineState,
    EquitySnapshot,
    Order,
    Position,
    ProtectionLock,
    Rejection,
    Trade,
)
from data.types import PortfolioView
from risk import Block, ClosedTrade, RiskContext
from risk.context import position_values
from risk.protections import at

log = logging.getLogger("volt.risk")
RECENT_TRADES = 100  # at least the ceiling of risk.protections.losing_streak
RECENT_REJECTIONS = 100
EXIT_RETRY_MAX = timedelta(hours=1)
MAX_ENTRIES_PER_HOUR = 1000  # the config's ceiling for max_trades_per_hour


_RECENT_TRADES = (
    select(Trade.pair, Trade.exit_ts, Trade.pnl, Trade.exit_reason)
    .order_by(Trade.id.desc())
    .limit(RECENT_TRADES)
)
_ENTRIES_SINCE = (
    select(Order.ts)
    .where(Order.side == "buy", Order.ts > bindparam("since"))
    .limit(MAX_ENTRIES_PER_HOUR)
)
_BROKER_REJECTIONS = (  # by the (source, ts) index
    select(Rejection.ts)
    .where(Rejection.source == "broker")
    .order_by(Rejection.ts.desc())
    .limit(RECENT_REJECTIONS)
)
_UNLIFTED_LOCKS = select(
    ProtectionLock.id,
    ProtectionLock.protection,
    ProtectionLock.pair,
    ProtectionLock.until,
    ProtectionLock.reason,
    ProtectionLock.clears,
).where(ProtectionLock.lifted_ts.is_(None))
_RUNNING_LOCKS = _UNLIFTED_LOCKS.where(ProtectionLock.until > bindparam("now"))
_LIFT_LOCK = (
    update(ProtectionLock)
    .where(ProtectionLock.id == bindparam("lock"))
    .values(lifted_ts=bindparam("at"))
)
_REWORD_LOCK = (
    update(ProtectionLock)
    .where(ProtectionLock.id == bindparam("lock"))
    .values(reason=bindparam("why"), clears=bindparam("when_clear"))
)
_STATE = select(
    EngineState.halted,
    EngineState.halt_reason,
    EngineState.peak_equity,
    EngineState.peak_equity_from,
    EngineState.peak_equity_id,
).where(EngineState.id == 1)
_SET_PEAK = (
    update(EngineState)
    .where(EngineState.id == 1)
    .values(
        peak_equity=bindparam("peak"),
        peak_equity_from=bindparam("since"),
        peak_equity_id=bindparam("last_id"),
    )
)


def risk_context(
    session: Session,
    book: PortfolioView,
    marks: Mapping[str, float],
    now: datetime,
    day_starts: dict | None = None,
) -> RiskContext:
    """Read inside the decision's own transaction, so a kill pressed before it is seen.
    `day_starts` keeps each day's starting equity once it is known (it never changes:
    snapshots are only ever added at the present), so a long-running caller reads it once.
    Every tick reads this, twice when it sends an order: prebuilt statements, run on the
    session's connection."""
    values = position_values(book.positions, marks)
    conn = core(session)  # every read below runs on it
    trades = conn.execute(_RECENT_TRADES).all()
    entries = conn.execute(_ENTRIES_SINCE, {"since": now - timedelta(hours=1)}).scalars().all()
    rejections = conn.execute(_BROKER_REJECTIONS).scalars().all()
    state = conn.execute(_STATE).first()
    return RiskContext(
        now=now,
        equity=book.equity,
        exposure=sum(values.values()),
        pair_exposure=values,
        peak_equity=_peak_equity(conn, state, now, book.equity),
        day_start_equity=_day_start_equity(session, now, book.equity, day_starts),
        recent_trades=tuple(
            ClosedTrade(t.pair, as_utc(t.exit_ts), t.pnl, t.exit_reason) for t in reversed(trades)
        ),
        recent_entries=tuple(as_utc(ts) for ts in entries),
        recent_rejections=tuple(as_utc(ts) for ts in rejections),
        halted=bool(state and state.halted),
        halt_reason=state.halt_reason if state else "",
        # Any kill not followed by a successful re-arm blocks, whatever became of it: a kill
        # whose halt could not be written must not leave entries open.
        kill_pending=kill_in_force_id(conn) is not None,
        locks=active_locks(conn, now),
    )


def _peak_equity(conn: Connection, state, now: datetime, equity: float):
    """The peak since the last drawdown pause, from the high-water mark kept on the state
    row (updated in the caller's transaction), so no decision rescans every snapshot."""
    stored = stored_peak(state)
    mark = peak_mark(conn, now, stored)
    if state is not None and mark != stored and mark.last_id is not None:
        params = {"peak": mark.peak, "since": mark.since, "last_id": mark.last_id}
        conn.execute(_SET_PEAK, params)
    return max(equity, mark.peak or 0.0)


def _day_start_equity(
    session: Session, now: datetime, equity: float, known: dict | None = None
) -> float:
    midnight = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
    if known is not None and midnight in known:
        return known[midnight]
    # A paper account reset today starts the day afresh at the new capital.
    reset = account_reset(session)
    if reset is not None and reset >= midnight:
        found = _first_equity_from(session, reset)
    else:
        found = _stored_day_start(session, midnight)
    if found is None:
        return equity
    if known is not None:
        known.clear()  # only today's is ever asked for again
        known[midnight] = found
    return found


def _stored_day_start(session: Session, midnight: datetime) -> float | None:
    before = session.scalar(
        select(EquitySnapshot.equity)
        .where(EquitySnapshot.ts < midnight)
        .order_by(EquitySnapshot.ts.desc())
        .limit(1)
    )
    if before is not None:
        return before
    return _first_equity_from(session, midnight)


def _first_equity_from(session: Session, since: datetime) -> float | None:
    return session.scalar(
        select(EquitySnapshot.equity)
        .where(EquitySnapshot.ts >= since)
        .order_by(EquitySnapshot.ts)
        .limit(1)
    )


def active_locks(conn: Connection, now: datetime) -> tuple[Block, ...]:
    """Stored locks with time still to run. Condition locks (no end time) are not trusted
    from storage: their protection answers afresh each time."""
    rows = conn.execute(_RUNNING_LOCKS, {"now": now}).all()
    return tuple(
        Block(row.protection, row.reason, row.clears, as_utc(row.until), row.pair) for row in rows
    )


def sync_locks(session: Session, blocks: Iterable[Block], now: datetime) -> None:
    """Store the blocks that hold now; lift stored ones that no longer do or have run out.
    A running lock keeps its end time: a drawdown pause must not slide forward."""
    current = {(b.protection, b.pair): b for b in blocks}
    conn = core(session)  # every tick runs this: prebuilt statements, no ORM objects
    for row in conn.execute(_UNLIFTED_LOCKS).all():
        block = current.get((row.protection, row.pair))
        ended = row.until is not None and as_utc(row.until) <= now
        if block is None or ended:
            conn.execute(_LIFT_LOCK, {"lock": row.id, "at": now})
            log.info(
                "protection %s%s cleared", row.protection, _on(row.pair), extra={"kind": "risk"}
            )
            continue
        if (row.reason, row.clears) != (block.reason, block.clears):
            conn.execute(
                _REWORD_LOCK, {"lock": row.id, "why": block.reason, "when_clear": block.clears}
            )
        current.pop((row.protection, row.pair))
    for block in current.values():
        session.add(
            ProtectionLock(
                protection=block.protection,
                pair=block.pair,
                reason=block.reason,
                clears=block.clears,
                ts=now,
                until=block.until,
            )
        )
        log.warning(
            "new entries blocked%s by %s", _on(block.pair), block.describe(), extra={"kind": "risk"}
        )


def _on(pair: str | None) -> str:
    return f" for {pair}" if pair else ""


def record_rejection(
    session: Session,
    now: datetime,
    pair: str,
    side: str,
    source: str,
    reason: str,
    decision_id: int | None = None,
) -> None:
    session.add(
        Rejection(
            ts=now, pair=pair, side=side, source=source, reason=reason, decision_id=decision_id
        )
    )


@dataclass
class _Refusal:
    count: int
    retry_at: datetime


class ExitRetries:
    """Exits the broker refused, per pair. Each refusal is a `Rejection` row of its own (the
    exit's transaction was rolled back) and the exit is retried after one candle, then after
    twice as long each time up to an hour, instead of being resent every tick. Only the
    broker's refusals pace exits: no protection is ever consulted for one."""

    def __init__(self, factory: sessionmaker[Session], candle: timedelta) -> None:
        self.factory = factory
        self.candle = candle
        self._refused: dict[str, _Refusal] = {}

    def deferred(self, pair: str, now: datetime) -> str | None:
        """Why this pair's exit waits now, or None when it may be sent."""
        refusal = self._refused.get(pair)
        if refusal is None:
            return None
        if now >= refusal.retry_at or not self._still_open(pair):
            return None
        return (
            f"{pair}: the broker refused the exit; it is retried with backoff "
            "(see the ERROR event); the position stays open until then"
        )

    def refused(self, pair: str, now: datetime, reason: str) -> None:
        if not self._still_open(pair):
            return  # not an exit, or the position is gone: nothing to pace
        count = self._refused[pair].count + 1 if pair in self._refused else 1
        wait = min(self.candle * 2 ** (count - 1), EXIT_RETRY_MAX)
        self._refused[pair] = _Refusal(count, now + wait)
        try:
            with transaction(self.factory) as session:
                record_rejection(session, now, pair, "sell", "broker", reason)
        except Exception:
            log.exception("could not record the refused exit of %s", pair)
        if count == 1:
            log.error(
                "%s: the broker REFUSED the exit (%s). The position is UNPROTECTED: its stop "
                "cannot close it. Fix the cause (balance, minimum order size, exchange "
                "permissions) or close it by hand on the exchange; VOLT retries at %s, then "
                "less and less often (at least hourly)",
                pair,
                reason,
                at(now + wait),
                extra={"kind": "exit_refused"},
            )
        else:
            log.warning(
                "%s: the broker refused the exit again (%d times: %s); next try at %s",
                pair,
                count,
                reason,
                at(now + wait),
                extra={"kind": "exit_refused"},
            )

    def succeeded(self, pair: str) -> None:
        if self._refused.pop(pair, None) is not None:
            log.warning("%s: the exit went through after refusals", pair, extra={"kind": "risk"})

    def _still_open(self, pair: str) -> bool:
        with self.factory() as session:
            return session.get(Position, pair) is not None
