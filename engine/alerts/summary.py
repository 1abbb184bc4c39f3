"""The daily summary: when it is due (once per market day, at an hour of the market clock in
the dashboard's timezone) and the day's figures, counted as the pages count "today"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.timezones import display_zone
from data.store import market_clock
from data.store.day_pnl import pnl_today
from data.store.models import EquitySnapshot, Position, Trade
from data.store.state import read_state
from engine.alerts.messages import DaySummary


def summary_zone(name: str) -> tzinfo:
    """dashboard.timezone as a zone, as the pages read it ("local" is the computer's)."""
    return display_zone(name)


def summary_due(market_now: datetime, hour: int, zone: tzinfo) -> date | None:
    """The market day whose summary is due at `market_now`: today once its hour has come."""
    local = market_now.astimezone(zone)
    return local.date() if local.hour >= hour else None


class SummarySchedule:
    """Once per market day. The day the market clock is first seen on is summarised only if
    its hour is still to come: a supervisor restarted after the hour would send it twice."""

    def __init__(self, hour: int, zone: tzinfo) -> None:
        self.hour, self.zone = hour, zone
        self.last_day: date | None = None
        self._seen = False

    def due(self, market_now: datetime | None) -> date | None:
        if market_now is None:
            return None
        day = summary_due(market_now, self.hour, self.zone)
        if not self._seen:
            self._seen, self.last_day = True, day
            return None
        if day is None or (self.last_day is not None and day <= self.last_day):
            return None
        self.last_day = day
        return day


def day_start(day: date, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def read_day_summary(
    factory: sessionmaker[Session], settings: Settings, day: date, zone: tzinfo, zone_name: str
) -> DaySummary:
    """The day's figures; its P&L is the pages' "today" (`data.store.day_pnl.pnl_today`)."""
    start = day_start(day, zone)
    end = start + timedelta(days=1)
    state = read_state(factory)
    day_pnl = pnl_today(factory.kw["bind"], start, settings.broker.starting_capital)
    with factory() as session:
        latest = session.scalar(
            select(EquitySnapshot.equity).order_by(EquitySnapshot.ts.desc()).limit(1)
        )
        closed = session.execute(
            select(func.count(), func.coalesce(func.sum(Trade.pnl), 0.0)).where(
                Trade.exit_ts >= start, Trade.exit_ts < end
            )
        ).one()
        wins = session.scalar(
            select(func.count()).where(Trade.exit_ts >= start, Trade.exit_ts < end, Trade.pnl > 0)
        )
        held = list(session.scalars(select(Position.pair).order_by(Position.pair)))
    return DaySummary(
        day=day,
        zone=zone_name,
        equity=latest,
        day_pnl=day_pnl,
        realised=float(closed[1]),
        trades=int(closed[0]),
        wins=int(wins or 0),
        open_positions=held,
        halted=bool(state.halted),
        halt_reason=state.halt_reason or "",
        status=state.status or "",
    )


def market_now(factory: sessionmaker[Session]) -> datetime | None:
    """The market time now: `data.store.market_clock.market_now`, the clock events and
    commands are stamped with (one name, one clock; not the last tick's, a tick behind)."""
    with factory() as session:
        return market_clock.market_now(session)
