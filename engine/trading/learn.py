"""Learning from outcomes: the decision journal followed each candle, and the team's
weights adapted from the calls it resolves (kept across restarts)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents.learning import adapt_weights
from config.settings import Learning
from data.stats.scorecard import call_records
from data.store.agent_calls import recent_calls
from data.store.db import transaction
from data.store.models import AgentWeight, JournalEntry
from engine.trading import journal

log = logging.getLogger("volt.trader")


class Learner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        weights: dict[str, float],
        learning: Learning,
        breakeven_accuracy: float,
        candle_length: timedelta,
        sale_cost: float = 0.0,
    ) -> None:
        self.factory, self.learning, self.candle_length = factory, learning, candle_length
        self.sale_cost = sale_cost  # what selling at a mark would cost (journal.sale_cost)
        self.base_weights = dict(weights)  # as configured; learning adapts from these
        self.weights = dict(weights)  # the team decides with these (the same dict)
        # The win rate at which the stop and take-profit distances break even after the
        # round trip's costs (risk.costs.breakeven_accuracy).
        self.breakeven_accuracy = breakeven_accuracy
        self.journal_open: bool | None = None  # any journal entry still followed (None: ask)
        self.load_weights()

    def entry_opened(self) -> None:
        """A decision executed: the journal has an entry to follow."""
        self.journal_open = True

    def follow_in(
        self, session: Session, now: datetime, marks: Mapping[str, float]
    ) -> tuple[list[JournalEntry], bool | None]:
        """Follow the journal's open entries, behind a savepoint: a failure rolls back only
        the journal's part (logged) and is tried again next candle; never costs the tick.
        Returns the entries resolved and whether any is still followed (None: not asked),
        to be believed only once the transaction commits (see `committed`)."""
        if self.journal_open is False:
            return [], None  # nothing is followed until a decision opens an entry
        learning, found = self.learning, ([], None)
        try:
            with session.begin_nested():
                found = journal.follow(
                    session,
                    now,
                    marks,
                    self.candle_length,
                    timedelta(hours=learning.outcome_horizon_hours),
                    learning.sell_horizon_candles,
                    self.sale_cost,
                )
        except Exception:
            log.exception("could not follow the decision journal; trying again next candle")
            return [], found[1]
        return found

    def committed(self, journal_open: bool | None) -> None:
        """What the journal found is stored."""
        if journal_open is not None:
            self.journal_open = journal_open

    def learn_from(self, resolved: list[JournalEntry], now: datetime) -> None:
        """Report the outcomes resolved (once stored), and learn from them."""
        if not resolved:
            return
        for entry in resolved:
            log.info(
                "journal: %s %s decision #%d resolved %s (P&L %+.2f)",
                entry.pair,
                entry.action,
                entry.decision_id,
                entry.outcome,
                entry.pnl,
                extra={"kind": "journal"},
            )
        if not self.learning.freeze:
            try:
                self.adapt_weights(now)
            except Exception:
                log.exception("could not adapt the agents' weights; trying again next outcome")

    def adapt_weights(self, now: datetime) -> None:
        learning = self.learning
        agents, engine = sorted(self.base_weights), self.factory.kw["bind"]
        records = call_records(recent_calls(engine, agents, learning.window))
        changes = adapt_weights(
            self.base_weights,
            self.weights,
            records,
            min_samples=learning.min_samples,
            floor=learning.floor,
            cap=learning.cap,
            breakeven=self.breakeven_accuracy,
        )
        if not changes:
            return
        with transaction(self.factory) as session:
            for change in changes:
                session.add(
                    AgentWeight(
                        ts=now,
                        agent=change.agent,
                        weight=change.weight,
                        previous=change.previous,
                        base=change.base,
                        accuracy=change.accuracy,
                        samples=change.samples,
                        reason=change.reason,
                    )
                )
        for change in changes:
            self.weights[change.agent] = change.weight
            log.info("weight of %s: %s", change.agent, change.reason, extra={"kind": "weights"})

    def load_weights(self) -> None:
        """Learned weights survive restarts, unless the configured weight has changed since
        (the trader's edit wins) or learning is frozen."""
        if self.learning.freeze:
            return
        with self.factory() as session:
            for agent, configured in self.base_weights.items():
                latest = session.scalar(
                    select(AgentWeight)
                    .where(AgentWeight.agent == agent)
                    .order_by(AgentWeight.id.desc())
                    .limit(1)
                )
                if configured > 0 and latest is not None and latest.base == configured:
                    self.weights[agent] = latest.weight
