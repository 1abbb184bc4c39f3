"""Fault isolation within a tick: a fault in one pair is reported and the other pairs go
on. An expected fault (the feed, the broker) is an event when it starts or changes; an
unexpected one is a bug, logged with its traceback, and fails the tick for the watchdog."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from data.store.db import transaction
from engine.trading.risk_records import record_rejection
from engine.venues.errors import KeyRefused, OrderNotPlaced, PermanentError, TemporaryError

if TYPE_CHECKING:
    from engine.trading.loop import TickReport

log = logging.getLogger("volt.trader")


class PairErrors:
    """Each pair's last expected fault, so one lasting many ticks is one event."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.last: dict[str, str] = {}

    def tick(self, now: datetime, report: TickReport) -> TickFaults:
        return TickFaults(self, now, report)

    def note(self, pair: str, exc: Exception) -> None:
        # One event when a fault starts or changes, not one every tick it lasts.
        message = f"{pair} skipped this tick: {type(exc).__name__}: {exc}"
        if isinstance(exc, KeyRefused):  # the exchange said it once for all pairs (an event)
            log.info(message)
            return
        if self.last.get(pair) != str(exc):
            log.warning(message, extra={"kind": "feed_error"})
        else:
            log.info(message)
        self.last[pair] = str(exc)

    def note_not_placed(self, exc: OrderNotPlaced, now: datetime) -> None:
        # Its own transaction: the decision's was rolled back, so the candle is decided
        # again next tick; these rows are what lets the rejection breaker stop that loop.
        try:
            with transaction(self.factory) as session:
                record_rejection(session, now, exc.pair, "buy", "broker", f"not placed: {exc}")
        except Exception:
            log.exception("could not record the order %s the broker never took", exc.pair)


class TickFaults:
    """One tick's faults: which pairs failed, and why (on the report)."""

    def __init__(self, errors: PairErrors, now: datetime, report: TickReport) -> None:
        self.errors, self.now, self.report = errors, now, report
        self.faulted: set[str] = set()

    @contextmanager
    def isolate(self, pair: str) -> Iterator[None]:
        report = self.report
        try:
            yield
        except OrderNotPlaced as exc:
            report.skipped[pair] = str(exc)
            self.errors.note(pair, exc)
            self.errors.note_not_placed(exc, self.now)
        except (TemporaryError, PermanentError) as exc:  # FeedUnavailable among them
            report.skipped[pair] = str(exc)
            self.errors.note(pair, exc)
        except Exception:
            log.exception("%s: unexpected error in this tick", pair)
            report.unexpected.append(pair)
        else:
            return
        self.faulted.add(pair)

    def went_through(self, pair: str) -> bool:
        return pair not in self.faulted

    def settle(self, pairs: list[str]) -> None:
        """A pair that went through this tick has no fault to remember."""
        for pair in pairs:
            if pair not in self.faulted:
                self.errors.last.pop(pair, None)
