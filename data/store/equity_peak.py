"""The peak equity that drawdown is measured from, read from the store one way for the risk
rules and the Risk panel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select

from data.store.account_resets import AccountReset
from data.store.db import as_utc, core
from data.store.models import EquitySnapshot, ProtectionLock


@dataclass(frozen=True)
class PeakMark:
    """The highest equity snapshot since `since` (None: all history), with the last snapshot
    id folded in, so the next reading only scans the snapshots added after it."""

    peak: float | None
    since: datetime | None
    last_id: int | None


_RESET = select(func.max(ProtectionLock.until)).where(
    ProtectionLock.protection == "max_drawdown", ProtectionLock.until <= bindparam("now")
)
# The newest, whatever the clock says: a replay started earlier must not revive the old account.
_ACCOUNT_RESET = select(func.max(AccountReset.ts))


def _peak_statement(from_reset: bool, from_mark: bool):
    statement = select(func.max(EquitySnapshot.equity), func.max(EquitySnapshot.id))
    if from_reset:
        statement = statement.where(EquitySnapshot.ts >= bindparam("reset"))
    if from_mark:
        statement = statement.where(EquitySnapshot.id > bindparam("last_id"))
    return statement


_PEAK = {(r, m): _peak_statement(r, m) for r in (False, True) for m in (False, True)}


def account_reset(db) -> datetime | None:
    """When the paper account was last reset to its starting capital (market time): the
    risk limits measure from then. `db` is a Session or a Connection."""
    return as_utc(core(db).scalar(_ACCOUNT_RESET))


def drawdown_reset(db, now: datetime) -> datetime | None:
    """When the last drawdown pause ended or the paper account was reset, whichever is
    later: the peak is measured afresh from then, or the pause would return at once and a
    new account would inherit the old one's peak. `db` is a Session or a Connection."""
    conn = core(db)
    times = (as_utc(conn.scalar(_RESET, {"now": now})), account_reset(conn))
    return max((t for t in times if t is not None), default=None)


def peak_mark(db, now: datetime, stored: PeakMark | None = None) -> PeakMark:
    """The peak since the last drawdown pause; from `stored` onwards when it is still
    measured from the same reset (a high-water mark), else from the snapshots."""
    reset = drawdown_reset(db, now)
    incremental = stored is not None and stored.last_id is not None and stored.since == reset
    params = {"reset": reset} if reset is not None else {}
    if incremental:
        params["last_id"] = stored.last_id
    peak, last_id = core(db).execute(_PEAK[reset is not None, incremental], params).one()
    if not incremental:
        return PeakMark(peak, reset, last_id)
    if peak is None:
        return stored
    return PeakMark(max(peak, stored.peak or peak), reset, last_id)


def stored_peak(state) -> PeakMark | None:
    """The high-water mark kept on the engine_state row, if any."""
    if state is None or state.peak_equity_id is None:
        return None
    return PeakMark(state.peak_equity, as_utc(state.peak_equity_from), state.peak_equity_id)
