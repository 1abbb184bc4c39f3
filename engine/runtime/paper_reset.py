"""The `reset_paper` command: a fresh paper account at the configured starting capital.

History is kept: trades, decisions, orders and equity snapshots stay, and an `account_resets`
row marks where the new account begins (the charts draw a line there; the daily-loss and
drawdown limits measure from it). The supervisor runs it only while no worker trades, so
nothing else writes to the account meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from data.store.account_resets import AccountReset
from data.store.commands import RESET_CONFIRMATION
from data.store.db import as_utc, transaction, utcnow
from data.store.events import record_event
from data.store.models import EngineState, EquitySnapshot, Position, ProtectionLock
from engine.runtime.commands import Outcome
from engine.venues.paper import make_exchange_factory, reset_balances

log = logging.getLogger("volt.supervisor")
# They judged the old account's equity; a strategy's own protections (streaks, cooldowns) stay.
ACCOUNT_PROTECTIONS = ("daily_loss_limit", "max_drawdown")


class PaperReset:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        worker_running: Callable[[], bool],
        exchange_factory: Callable[[], sessionmaker[Session]] = make_exchange_factory,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.worker_running = worker_running
        self.exchange_factory = exchange_factory

    def refusal(self, payload: dict) -> str | None:
        """Why the reset may not run now, or None."""
        if str(payload.get("typed", "")).strip() != RESET_CONFIRMATION:
            return f"not confirmed: type {RESET_CONFIRMATION} to reset the paper account"
        if self.settings.mode != "paper" or self.settings.broker.kind != "paper":
            return (
                f"only a paper account can be reset; this engine trades in {self.settings.mode} "
                f"mode through the {self.settings.broker.kind} broker"
            )
        if self.worker_running():
            return "stop trading first: a reset runs only while no worker trades"
        with self.factory() as session:
            open_pairs = sorted(session.scalars(select(Position.pair)))
        if open_pairs:
            return f"close the open positions first: {', '.join(open_pairs)}"
        return None

    def reset(self, command_id: int, payload: dict) -> Outcome:
        """The `reset_paper` command (payload {"typed": "RESET"})."""
        if why := self.refusal(payload):
            return False, why
        capital = self.settings.broker.starting_capital
        quote = self.settings.broker.quote_currency
        exchange = self.exchange_factory()
        try:
            old = reset_balances(exchange, quote, capital)
        finally:
            exchange.kw["bind"].dispose()
        with transaction(self.factory) as session:
            last = session.scalar(select(EquitySnapshot).order_by(EquitySnapshot.id.desc()))
            state = session.get(EngineState, 1)
            known = [
                as_utc(t)
                for t in (state.market_time if state else None, last.ts if last else None)
                if t is not None
            ]
            # Strictly after the old account's last snapshot, so none of it counts after.
            at = max(known) + timedelta(microseconds=1) if known else utcnow()
            previous = last.equity if last else None
            session.add(
                AccountReset(
                    ts=at,
                    wall_ts=utcnow(),
                    capital=capital,
                    previous_equity=previous,
                    quote_currency=quote,
                    command_id=command_id,
                )
            )
            session.add(EquitySnapshot(ts=at, equity=capital, cash=capital, positions_value=0.0))
            session.execute(
                update(ProtectionLock)
                .where(
                    ProtectionLock.lifted_ts.is_(None),
                    ProtectionLock.protection.in_(ACCOUNT_PROTECTIONS),
                )
                .values(lifted_ts=at)
            )
            if state is not None:  # the drawdown's high-water mark starts again
                state.peak_equity = state.peak_equity_id = state.peak_equity_from = None
        was = "" if previous is None else f" (was {previous:,.2f}"
        coins = sorted(c for c, total in old.items() if c != quote and total > 0)
        if was:
            was += f"; coins written off: {', '.join(coins)})" if coins else ")"
        message = f"paper account reset to {capital:,.2f} {quote}{was}; history kept"
        record_event(self.factory, "WARNING", "supervisor", "paper_reset", message)
        log.info(message, extra={"skip_events": True})
        return True, message
