"""The supervisor's own way to the account: its own broker and the book in the database, so
positions are closed with the worker dead, hung or stopped."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from data.store.db import as_utc
from data.store.models import Position
from data.store.state import read_state
from engine.runtime.commands import Outcome
from engine.trading import manual
from engine.trading.account import Account
from engine.trading.reconcile import holdings_mismatches, reconcile
from engine.wiring import build_account, build_clock

log = logging.getLogger("volt.supervisor")
KILL_CLOSE_ATTEMPTS = 3
KILL_RETRY_SECONDS = 1.0  # doubles after each attempt that left something open


class SupervisorAccount:
    def __init__(self, settings: Settings, factory: sessionmaker[Session], speed: float) -> None:
        self.settings = settings
        self.factory = factory
        self.speed = speed

    def connect(self) -> Account:
        """A fresh account for each use (no agents, no loop): a broker left broken by the
        last one is not reused. The clock resumes at the engine's market time, as a worker's
        would."""
        state = read_state(self.factory)
        clock = build_clock(self.settings, self.speed, as_utc(state.market_time))
        return build_account(self.settings, self.factory, clock)

    def flatten(self, command_id: int) -> tuple[list[str], list[str], int]:
        """Close everything, retried with backoff. Returns (what was done, what is still open
        and why, attempts)."""
        account = self.connect()
        closed: list[str] = []
        delay = KILL_RETRY_SECONDS
        for attempt in range(1, KILL_CLOSE_ATTEMPTS + 1):
            done, failed = self.flatten_once(command_id, account)
            closed += [line for line in done if line.startswith("closed ")]
            if not failed:
                break
            if attempt < KILL_CLOSE_ATTEMPTS:
                log.warning(
                    "kill switch #%d attempt %d of %d left open: %s; retrying in %.1f s",
                    command_id,
                    attempt,
                    KILL_CLOSE_ATTEMPTS,
                    "; ".join(failed),
                    delay,
                    extra={"kind": "kill_switch"},
                )
                time.sleep(delay)  # not a stop event: a shutdown must not cut the kill short
                delay *= 2
        closed += [line for line in done if not line.startswith("closed ")]
        return closed, failed, attempt

    def flatten_once(
        self, command_id: int, account: Account | None = None
    ) -> tuple[list[str], list[str]]:
        """One attempt. Each step is on its own: a failing one never stops the closes."""
        account = account if account is not None else self.connect()
        market = self.settings.market
        try:
            # The worker may have died between the broker's fill and its own record of it:
            # bring the book up to date first, or the flatten would miss that position.
            for finding in reconcile(account, market.pairs, market.history_candles):
                log.warning(
                    "reconciliation before the flatten: %s",
                    finding,
                    extra={"kind": "reconciliation"},
                )
        except Exception:
            log.exception(
                "kill switch #%d: reconciliation before the flatten failed; closing what the "
                "book holds",
                command_id,
                extra={"kind": "kill_switch"},
            )
        try:
            done, failed = manual.flatten(account, "kill_switch", f"k{command_id}")
        except Exception as exc:
            log.exception("kill switch #%d: the flatten failed", command_id)
            done, failed = [], [f"{type(exc).__name__}: {exc}"]
        try:
            # On an exchange account, coins VOLT never bought are its owner's: only a
            # shortfall fails.
            surplus = account.broker.exclusive_account
            failed += [
                f"account mismatch: {m}"
                for m in holdings_mismatches(account, surplus, market.pairs)
            ]
        except Exception as exc:
            log.exception("kill switch #%d: the account check failed", command_id)
            failed.append(f"account check failed: {type(exc).__name__}: {exc}")
        if failed:
            failed += [
                f"{pair}: still open"
                for pair in self.open_pairs()
                if not any(line.startswith(pair) for line in failed)
            ]
        return done, failed

    def open_pairs(self) -> list[str]:
        """The pairs the database still holds, by name, for the report; never raises."""
        try:
            with self.factory() as session:
                return sorted(session.scalars(select(Position.pair)))
        except Exception:
            log.exception("could not list the open positions")
            return ["(open positions unknown: the database could not be read)"]

    def close_position(self, command_id: int, payload: dict) -> Outcome:
        """A manual close with no worker running (stopped or halted): the supervisor closes
        it, through the risk gate like the worker does."""
        pair = payload.get("pair")
        if pair not in self.settings.market.pairs:
            return False, f"unknown pair {pair!r}"
        result = manual.close_position(self.connect(), pair, "manual", f"m{command_id}")
        return not result.endswith("no open position"), f"{result} (no worker ran: the supervisor)"
