"""What the agents voted, how much each weighed, and how each decision turned out."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from data.queries.frames import read_frame
from data.store.models import AgentWeight, Decision, JournalEntry, VoteRow


def resolved_votes(engine: Engine, since_id: int = 0) -> pd.DataFrame:
    """Every vote on a resolved journal decision: what the agents' records are made of."""
    statement = (
        select(
            JournalEntry.decision_id,
            JournalEntry.exit_ts.label("resolved_at"),
            JournalEntry.outcome,
            JournalEntry.action.label("decision_action"),
            JournalEntry.pnl,
            VoteRow.agent,
            VoteRow.action,
            VoteRow.confidence,
            VoteRow.weight,
            VoteRow.source,
        )
        .join(VoteRow, VoteRow.decision_id == JournalEntry.decision_id)
        .where(JournalEntry.outcome != "PENDING", JournalEntry.id > since_id)
        .order_by(JournalEntry.exit_ts, JournalEntry.id)
    )
    return read_frame(engine, statement, ["decision_id", "resolved_at", "outcome", "agent"])


def agent_timeline(
    engine: Engine,
    pair: str | None = None,
    agent: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """Decisions with each agent's vote and the journal outcome, newest first, filtered.

    `outcome` is a journal outcome (PENDING, WIN, ...), or "not executed"."""
    latest = select(Decision.id).order_by(Decision.id.desc())
    if pair:
        latest = latest.where(Decision.pair == pair)
    if action:
        latest = latest.where(Decision.action == action)
    if outcome == "not executed":
        latest = latest.where(Decision.executed.is_(False))
    elif outcome:
        latest = latest.join(JournalEntry, JournalEntry.decision_id == Decision.id).where(
            JournalEntry.outcome == outcome
        )
    statement = (
        select(
            Decision.id.label("decision_id"),
            Decision.candle_ts,
            Decision.pair,
            Decision.action,
            Decision.score,
            Decision.threshold,
            Decision.regime,
            Decision.price,
            Decision.executed,
            Decision.outcome.label("result"),
            Decision.audit,
            JournalEntry.outcome,
            JournalEntry.pnl,
            VoteRow.agent,
            VoteRow.action.label("vote"),
            VoteRow.confidence,
            VoteRow.weight,
            VoteRow.source,
            VoteRow.rationale,
        )
        .join(VoteRow, VoteRow.decision_id == Decision.id)
        .outerjoin(JournalEntry, JournalEntry.decision_id == Decision.id)
        .where(Decision.id.in_(latest.limit(limit).scalar_subquery()))
        .order_by(Decision.id.desc(), VoteRow.agent)
    )
    if agent:
        statement = statement.where(VoteRow.agent == agent)
    return read_frame(engine, statement, ["decision_id", "pair", "agent", "vote", "rationale"])


def journal(engine: Engine, limit: int | None = None) -> pd.DataFrame:
    """The decision journal, newest first."""
    table = JournalEntry.__table__
    statement = select(*table.columns).order_by(JournalEntry.id.desc())
    if limit:
        statement = statement.limit(limit)
    return read_frame(engine, statement, [c.name for c in table.columns])


def weight_history(engine: Engine) -> pd.DataFrame:
    columns = ["ts", "agent", "weight", "previous", "base", "accuracy", "samples", "reason"]
    statement = select(*(getattr(AgentWeight, c) for c in columns)).order_by(AgentWeight.id)
    return read_frame(engine, statement, columns)


def llm_votes(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """The LLM agent's latest votes, for its abstain rate and latency."""
    statement = (
        select(VoteRow.source, VoteRow.data, VoteRow.rationale, Decision.ts)
        .join(Decision, Decision.id == VoteRow.decision_id)
        .where(VoteRow.agent == "llm")
        .order_by(VoteRow.id.desc())
        .limit(limit)
    )
    return read_frame(engine, statement, ["source", "data", "rationale", "ts"])
