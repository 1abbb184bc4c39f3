"""The supervisor's alert dispatcher: a thread that follows the store by id (events, closed
trades, protection locks) and the engine's halt, and hands the kinds switched on to the
sender. It starts at the rows that exist: history is never re-sent."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.alerts import alert_urls, mask_url
from data.store.models import Event, ProtectionLock, Trade
from data.store.state import read_state
from engine.alerts import messages
from engine.alerts.messages import Alert, EventRow, LockRow, TradeRow
from engine.alerts.sender import AlertSender
from engine.alerts.summary import SummarySchedule, market_now, read_day_summary, summary_zone

log = logging.getLogger("volt.alerts")
POLL_SECONDS = 1.0
BATCH = 500  # rows read per table per pass
# On PostgreSQL an id is taken at insert and seen at commit, so a row with a lower id can
# appear after a higher one (a decision's transaction waits on the exchange). Each pass
# looks this many ids behind its cursor again and skips the ids it already handled.
LOOKBACK_IDS = 200
CLOSE_SECONDS = 10.0  # at shutdown, how long queued alerts may take to go out


class AlertDispatcher:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        sender: AlertSender | None = None,
        urls: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.alerts = settings.alerts
        self.factory = factory
        self.urls = alert_urls(self.alerts) if urls is None else urls
        self.sender = sender or AlertSender(self.urls, factory)
        self.kinds = frozenset(self.alerts.kinds_on())
        zone_name = getattr(settings.dashboard, "timezone", "UTC")
        self.zone_name = zone_name
        self.schedule = SummarySchedule(self.alerts.daily_summary_hour, summary_zone(zone_name))
        self.cursors = {"events": 0, "trades": 0, "locks": 0}
        self.seen: dict[str, set[int]] = {name: set() for name in self.cursors}
        self.halted: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)

    @property
    def enabled(self) -> bool:
        return bool(self.urls and self.kinds)

    def describe(self) -> str:
        if not self.urls:
            return "alerts: none (no [alerts] urls nor VOLT_ALERT_URLS)"
        shown = ", ".join(mask_url(url) for url in self.urls)
        return f"alerts: {', '.join(sorted(self.kinds)) or 'every kind off'} to {shown}"

    def start(self) -> None:
        """From the rows that exist now on; nothing is sent when no target or kind is set."""
        log.info(self.describe(), extra={"kind": "alerts"})
        if not self.enabled:
            return
        self.sender.start()
        self._thread.start()

    def stop(self, timeout: float = CLOSE_SECONDS) -> None:
        """A last pass, then what is queued goes out (for at most `timeout` seconds)."""
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join(timeout)
        # Primed and no longer polling: a last pass sends only what is new. A thread still
        # inside a pass would race it over the cursors and could send an alert twice.
        if self.halted is not None and not self._thread.is_alive():
            self.poll_once()
        if not self.sender.close(timeout):
            log.warning("alerts: some were still unsent at shutdown", extra={"kind": "alerts"})

    def prime(self) -> None:
        with self.factory() as session:
            for name, column in (
                ("events", Event.id),
                ("trades", Trade.id),
                ("locks", ProtectionLock.id),
            ):
                self.cursors[name] = session.scalar(select(func.max(column))) or 0
                # History is never sent: the ids the first look-back will read count as seen.
                floor = self.cursors[name] - LOOKBACK_IDS
                self.seen[name] = set(session.scalars(select(column).where(column > floor)))
        self.halted = read_state(self.factory).halted
        self.schedule.due(market_now(self.factory))

    def _run(self) -> None:
        primed = False
        while not primed and not self._stop.is_set():
            try:
                self.prime()
                primed = True
            except Exception:
                log.exception("alerts: could not read the store; retrying")
                self._stop.wait(POLL_SECONDS)
        while not self._stop.wait(POLL_SECONDS):
            self.poll_once()

    def _safely(self, work: Callable[[], None]) -> None:
        # A locked database or a bad row must not end the alerts, nor reach trading.
        try:
            work()
        except Exception:
            log.exception("alerts: a pass failed; trying again", extra={"skip_events": True})

    def poll_once(self) -> None:
        """One pass: every new row of each table, the halt, the daily summary. Each source
        is read and its alerts queued on its own, so a failed read of one never drops what
        another already marked as handled (a locked table must not cost the halt alert)."""
        for source in (
            self._halt,
            self._events,
            self._stop_losses,
            self._protections,
            self._summary,
        ):
            self._safely(lambda source=source: self._queue(source()))

    def _queue(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            if alert.kind in self.kinds:
                self.sender.send(alert)

    def _halt(self) -> list[Alert]:
        state = read_state(self.factory)
        was, self.halted = self.halted, bool(state.halted)
        return [messages.halted(state.halt_reason or "")] if self.halted and was is False else []

    def _new_rows(self, name: str, query) -> list:
        """The rows of `query` (whose first column is the id) not handled yet, oldest first."""
        id_column = query.selected_columns[0]
        floor = max(self.cursors[name] - LOOKBACK_IDS, 0)
        with self.factory() as session:
            rows = session.execute(
                query.where(id_column > floor).order_by(id_column).limit(BATCH + LOOKBACK_IDS)
            ).all()
        seen = self.seen[name]
        fresh = [row for row in rows if row[0] not in seen][:BATCH]
        seen.update(row[0] for row in fresh)
        if fresh:
            self.cursors[name] = max(self.cursors[name], fresh[-1][0])
        low = self.cursors[name] - LOOKBACK_IDS
        self.seen[name] = {row_id for row_id in seen if row_id > low}
        return fresh

    def _events(self) -> list[Alert]:
        rows = self._new_rows(
            "events",
            select(Event.id, Event.level, Event.source, Event.kind, Event.message, Event.traceback),
        )
        found = []
        for row in rows:
            event = EventRow(*row)
            last = self._last_worker_error(event.id) if messages.is_crash_loop(event) else None
            found.append(messages.from_event(event, last))
        return [alert for alert in found if alert is not None]

    def _last_worker_error(self, before: int) -> EventRow | None:
        """The error a crash loop's last worker logged before dying (its own event)."""
        with self.factory() as session:
            row = session.execute(
                select(
                    Event.id, Event.level, Event.source, Event.kind, Event.message, Event.traceback
                )
                .where(
                    Event.id < before,
                    Event.source == "worker",
                    Event.level.in_(("ERROR", "CRITICAL")),
                )
                .order_by(Event.id.desc())
                .limit(1)
            ).first()
        return EventRow(*row) if row else None

    def _stop_losses(self) -> list[Alert]:
        rows = self._new_rows(
            "trades",
            select(
                Trade.id,
                Trade.pair,
                Trade.amount,
                Trade.entry_price,
                Trade.exit_price,
                Trade.pnl,
                Trade.pnl_pct,
                Trade.exit_reason,
            ),
        )
        quote = self.settings.broker.quote_currency
        found = (messages.from_stop_loss(TradeRow(*row), quote) for row in rows)
        return [alert for alert in found if alert is not None]

    def _protections(self) -> list[Alert]:
        rows = self._new_rows(
            "locks",
            select(
                ProtectionLock.id,
                ProtectionLock.protection,
                ProtectionLock.pair,
                ProtectionLock.reason,
                ProtectionLock.clears,
            ),
        )
        found = (messages.from_protection(LockRow(*row)) for row in rows)
        return [alert for alert in found if alert is not None]

    def _summary(self) -> list[Alert]:
        if "daily_summary" not in self.kinds:
            return []
        before = self.schedule.last_day
        day = self.schedule.due(market_now(self.factory))
        if day is None:
            return []
        try:
            figures = read_day_summary(
                self.factory, self.settings, day, self.schedule.zone, self.zone_name
            )
        except Exception:
            self.schedule.last_day = before  # not sent: due again on the next pass
            raise
        return [messages.daily_summary(figures, self.settings.broker.quote_currency)]
