"""The Agents page's leaderboard: each agent's accuracy over its recent calls and its share of
the realised P&L, worked out by the database.

`data.stats.scorecard.agent_records` computes the same records from every resolved vote in
a DataFrame: on 100k decisions that read and the Python around it took 1.5 s a refresh.
Here the accuracy comes from the engine's own read of recent calls (newest outcomes first,
by index) and the P&L shares from one aggregate query, so a few rows leave the database.
"""

from __future__ import annotations

from sqlalchemy import Engine, Float, case, cast, func, select

from data.stats.scorecard import AgentRecord, call_records
from data.store.agent_calls import recent_calls
from data.store.models import JournalEntry, VoteRow

_RESOLVED = select(JournalEntry.decision_id).where(JournalEntry.outcome != "PENDING")


def _direction(action):
    return case((action == "BUY", 1.0), (action == "SELL", -1.0), else_=0.0)


def _contributions(engine: Engine) -> dict[str, float]:
    """Each agent's share of every resolved round trip's P&L, by its signed push toward the
    entry's score (`agent_records`' P&L contribution), for every agent that voted on one."""
    counted = (VoteRow.source != "abstain") & (VoteRow.weight > 0)
    push = case(
        (
            counted,
            cast(VoteRow.weight, Float)
            * _direction(VoteRow.action)
            * VoteRow.confidence
            * _direction(JournalEntry.action),
        ),
        else_=0.0,
    )
    votes = (
        select(
            VoteRow.agent,
            push.label("push"),
            func.sum(push).over(partition_by=VoteRow.decision_id).label("total"),
            # A sale's "P&L" is the fall it spared, already in its round trip's result.
            case((JournalEntry.action == "BUY", JournalEntry.pnl), else_=0.0).label("realised"),
        )
        .join(VoteRow, VoteRow.decision_id == JournalEntry.decision_id)
        # Said twice so SQLite reads the votes of resolved decisions by index, not every vote.
        .where(JournalEntry.outcome != "PENDING", VoteRow.decision_id.in_(_RESOLVED))
        .subquery()
    )
    share = case((votes.c.total > 0, votes.c.push / votes.c.total), else_=0.0)
    statement = select(votes.c.agent, func.sum(share * votes.c.realised)).group_by(votes.c.agent)
    with engine.connect() as conn:
        return {agent: float(total or 0.0) for agent, total in conn.execute(statement)}


def agent_scoreboard(engine: Engine, window: int) -> dict[str, AgentRecord]:
    """Per agent that voted on a resolved decision: its last `window` BUY or SELL calls
    judged against the market, and its P&L contribution over every resolved decision."""
    contributions = _contributions(engine)
    calls = call_records(recent_calls(engine, sorted(contributions), window))
    return {
        agent: AgentRecord(
            agent,
            calls[agent].samples if agent in calls else 0,
            calls[agent].correct if agent in calls else 0,
            round(contributions[agent], 6),
        )
        for agent in sorted(contributions)
    }
