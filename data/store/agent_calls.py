"""The trading loop's read for learning: each agent's latest resolved calls from the journal.

In the store, not in `data.queries`: the engine reads it every tick, and the engine does
not depend on the dashboard's reads."""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, or_, select

from data.store.models import JournalEntry, VoteRow

_RESOLVED_NEWEST = (
    select(
        JournalEntry.id,
        JournalEntry.exit_ts,
        JournalEntry.decision_id,
        JournalEntry.action,
        JournalEntry.outcome,
        JournalEntry.pnl,
    )
    .where(JournalEntry.outcome != "PENDING")
    .order_by(JournalEntry.exit_ts.desc(), JournalEntry.id.desc())
    .limit(bindparam("batch"))
)
_RESOLVED_BEFORE = _RESOLVED_NEWEST.where(
    or_(
        JournalEntry.exit_ts < bindparam("ts"),
        (JournalEntry.exit_ts == bindparam("ts")) & (JournalEntry.id < bindparam("id")),
    )
)
_CALLS_ON = select(VoteRow.decision_id, VoteRow.agent, VoteRow.action).where(
    VoteRow.decision_id.in_(bindparam("decisions", expanding=True)),
    VoteRow.source != "abstain",
    VoteRow.action.in_(("BUY", "SELL")),
)


def recent_calls(
    engine: Engine, agents: list[str], window: int, batch: int = 200
) -> dict[str, list[tuple]]:
    """Each agent's last `window` resolved calls (BUY or SELL, not abstaining), oldest
    first, as (vote action, decision action, outcome, P&L): all that the agents' accuracy
    reads (`data.stats.scorecard.call_records`). The live tick learns from an outcome, so
    this reads the newest outcomes a batch at a time (by the exit time index) and their
    votes (by decision), never a scan of every vote."""
    calls: dict[str, list[tuple]] = {agent: [] for agent in agents}
    wanted = set(agents)
    with engine.connect() as conn:
        entries = conn.execute(_RESOLVED_NEWEST, {"batch": batch}).all()
        while entries and wanted:
            ids = [entry.decision_id for entry in entries]
            votes: dict[int, dict[str, str]] = {}
            for decision_id, agent, action in conn.execute(_CALLS_ON, {"decisions": ids}):
                votes.setdefault(decision_id, {})[agent] = action
            for entry in entries:
                called = votes.get(entry.decision_id, {})
                for agent in [a for a in called if a in wanted]:
                    calls[agent].append((called[agent], entry.action, entry.outcome, entry.pnl))
                    if len(calls[agent]) == window:
                        wanted.discard(agent)
            last = entries[-1]
            params = {"batch": batch, "ts": last.exit_ts, "id": last.id}
            entries = conn.execute(_RESOLVED_BEFORE, params).all() if wanted else []
    return {agent: rows[::-1] for agent, rows in calls.items() if rows}
