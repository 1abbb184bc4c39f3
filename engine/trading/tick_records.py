"""The rows a tick writes, as Core statements: one statement per table for all pairs.

A tick of five pairs once spent more time in the ORM's unit of work than in its own
arithmetic; these inserts carry the same columns in a fraction of the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data.market.indicators import candle_arrays
from data.store.models import Candle, Decision, VoteRow
from data.types import Consensus

_DECISIONS, _VOTES = Decision.__table__, VoteRow.__table__
# Prebuilt: every tick runs them, and building a statement costs more than running it.
_NEW_CANDLES = {
    "sqlite": sqlite_insert(Candle).on_conflict_do_nothing(),
    "postgresql": postgresql_insert(Candle).on_conflict_do_nothing(),
}
_INSERT_DECISIONS = insert(_DECISIONS).returning(_DECISIONS.c.pair, _DECISIONS.c.id)
_INSERT_VOTES = insert(_VOTES)


@dataclass(frozen=True)
class DecisionPlan:
    """A decision computed from a pair's candles, before anything is written or sent."""

    pair: str
    candle_ts: datetime
    price: float
    atr: float
    regime: str
    consensus: Consensus
    # Where its order is approved and sent: the open of the candle forming when it is
    # acted on (broker.fill_at = "next_open"); None: at `price`, the decided candle's close.
    fill_price: float | None = None

    @property
    def order_price(self) -> float:
        return self.price if self.fill_price is None else self.fill_price


def candle_rows(pair: str, timeframe: str, candles: pd.DataFrame) -> list[dict]:
    columns = {name: values.tolist() for name, values in candle_arrays(candles).items()}
    return [
        {"pair": pair, "timeframe": timeframe, "ts": ts}
        | {name: values[row] for name, values in columns.items()}
        for row, ts in enumerate(candles.index.to_pydatetime())
    ]


def store_candles(session: Session, rows: list[dict]) -> None:
    """Insert candles not stored yet; one already stored is left as it is."""
    if not rows:
        return
    statement = _NEW_CANDLES.get(session.bind.dialect.name)
    if statement is None:
        for row in rows:
            session.merge(Candle(**row))
        return
    # One prebuilt statement, many parameter sets (SQLAlchemy batches them itself).
    session.connection().execute(statement, rows)


def insert_decisions(
    session: Session, decided: list[tuple[DecisionPlan, str]], now: datetime
) -> list[int]:
    """Store each (plan, outcome) with every vote, its weight, the score and the threshold;
    returns the decisions' ids in the same order."""
    if not decided:
        return []
    connection = session.connection()
    rows = [
        {
            "ts": now,
            "pair": plan.pair,
            "candle_ts": plan.candle_ts,
            "price": plan.price,
            "action": plan.consensus.action.value,
            "score": plan.consensus.score,
            "threshold": plan.consensus.threshold,
            "regime": plan.regime,
            "executed": False,
            "outcome": outcome,
            "audit": "",
        }
        for plan, outcome in decided
    ]
    # One statement for all: each decision is a different pair's, so the returned ids are
    # matched by pair (ordered RETURNING makes SQLite insert row by row).
    if len({row["pair"] for row in rows}) != len(rows):
        raise ValueError("one decision per pair in a batch")
    returned = dict(connection.execute(_INSERT_DECISIONS, rows).all())
    ids = [returned[row["pair"]] for row in rows]
    votes = [
        {
            "decision_id": decision_id,
            "agent": vote.agent,
            "action": vote.action.value,
            "confidence": vote.confidence,
            "weight": plan.consensus.weights.get(vote.agent, 0.0),
            "source": vote.source.value,
            "rationale": vote.rationale,
            "data": vote.data,
        }
        for decision_id, (plan, _) in zip(ids, decided, strict=True)
        for vote in plan.consensus.votes
    ]
    if votes:
        connection.execute(_INSERT_VOTES, votes)
    return ids
