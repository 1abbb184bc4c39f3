"""What the agents voted, how much each weighed, and how each decision turned out."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from data.queries.frames import read_frame
from data.store.models import AgentWeight, Decision, JournalEntry, Order, Rejection, VoteRow
from data.types import Action, VoteSource

RISK_REFUSED = "rejected by risk: "  # how the engine begins a refused entry's outcome
BROKER_REFUSED = "refused by the broker: "


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


def _latest_decisions(pair, agent, action, outcome, limit: int):
    """The ids of the newest decisions that pass the filters (`agent`: it voted)."""
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
    if agent:  # correlated, through the votes' decision index: newest first, no full scan
        voted = select(VoteRow.id).where(VoteRow.decision_id == Decision.id, VoteRow.agent == agent)
        latest = latest.where(voted.exists())
    return latest.limit(limit)


def decision_list(
    engine: Engine,
    pair: str | None = None,
    agent: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """One row per decision, newest first: the consensus, what became of it, and a column
    "<agent> vote" per agent ("BUY 0.62", "abstain"). With `agent`, only decisions it voted
    on, with its `vote`, `confidence` and `rationale` beside."""
    ids = _latest_decisions(pair, agent, action, outcome, limit).scalar_subquery()
    decisions = read_frame(
        engine,
        select(
            Decision.id.label("decision_id"),
            Decision.candle_ts,
            Decision.pair,
            Decision.action,
            Decision.score,
            Decision.threshold,
            Decision.regime,
            Decision.executed,
            Decision.outcome.label("result"),
            Decision.audit,
            JournalEntry.outcome,
            JournalEntry.pnl,
        )
        .outerjoin(JournalEntry, JournalEntry.decision_id == Decision.id)
        .where(Decision.id.in_(ids))
        .order_by(Decision.id.desc()),
        ["decision_id", "candle_ts", "pair", "action", "score", "threshold", "result"],
    )
    votes = read_frame(
        engine,
        select(
            VoteRow.decision_id,
            VoteRow.agent,
            VoteRow.action,
            VoteRow.confidence,
            VoteRow.source,
            VoteRow.rationale,
        )
        .where(VoteRow.decision_id.in_(ids))
        .order_by(VoteRow.id),
        ["decision_id", "agent", "action", "confidence", "source", "rationale"],
    )
    if decisions.empty or votes.empty:
        return decisions
    abstained = votes["source"] == VoteSource.ABSTAIN.value
    votes["said"] = votes["action"] + " " + votes["confidence"].map("{:.2f}".format)
    votes.loc[abstained, "said"] = "abstain"
    said = votes.pivot_table(index="decision_id", columns="agent", values="said", aggfunc="last")
    said.columns = [f"{agent} vote" for agent in said.columns]
    frame = decisions.join(said, on="decision_id")
    if agent:
        own = votes[votes["agent"] == agent].drop_duplicates("decision_id", keep="last")
        own = own.set_index("decision_id")[["action", "confidence", "rationale"]]
        frame = frame.join(own.rename(columns={"action": "vote"}), on="decision_id")
    return frame


def decision_detail(engine: Engine, decision_id: int) -> dict | None:
    """Everything behind one decision: the decision, every vote with the numbers behind it
    (`data`), the orders it sent, the refusals recorded against it and its journal entry."""
    decisions = Decision.__table__
    with engine.connect() as conn:
        decision = conn.execute(select(decisions).where(Decision.id == decision_id)).first()
        if decision is None:
            return None
        entry = conn.execute(
            select(JournalEntry.__table__).where(JournalEntry.decision_id == decision_id)
        ).first()
    votes = read_frame(
        engine,
        select(
            VoteRow.agent,
            VoteRow.action,
            VoteRow.confidence,
            VoteRow.weight,
            VoteRow.source,
            VoteRow.rationale,
            VoteRow.data,
        )
        .where(VoteRow.decision_id == decision_id)
        .order_by(VoteRow.id),
        ["agent", "action", "confidence", "weight", "source", "rationale", "data"],
    )
    orders = read_frame(
        engine,
        select(Order.ts, Order.side, Order.amount, Order.price, Order.status, Order.reason)
        .where(Order.decision_id == decision_id)
        .order_by(Order.id),
        ["ts", "side", "amount", "price", "status", "reason"],
    )
    refusals = read_frame(
        engine,
        select(Rejection.ts, Rejection.side, Rejection.source, Rejection.reason)
        .where(Rejection.decision_id == decision_id)
        .order_by(Rejection.id),
        ["ts", "side", "source", "reason"],
    )
    shown = dict(decision._mapping)
    return {
        "decision": shown,
        "votes": votes,
        "orders": orders,
        "refusals": refusals,
        "journal": dict(entry._mapping) if entry is not None else None,
        "tally": consensus_tally(votes, shown["threshold"]),
        "verdict": risk_verdict(shown, orders, refusals),
    }


def _why(action: str, score: float, threshold: float, total_weight: float) -> str:
    if total_weight == 0:
        return f"no vote counted (all abstained or unweighted): score 0, so {action}"
    if action == Action.BUY:
        return f"score {score:+.4f} reached +{threshold:g}: BUY"
    if action == Action.SELL:
        return f"score {score:+.4f} reached -{threshold:g}: SELL"
    return f"score {score:+.4f} stayed inside ±{threshold:g}: HOLD"


def consensus_tally(votes: pd.DataFrame, threshold: float) -> dict:
    """`agents.consensus.weigh_votes` redone from stored votes, term by term: a vote counts
    when it did not abstain and had a weight (the stored weight is 0 otherwise); score =
    sum(weight x sign x confidence) / sum(weight), in vote order; BUY from +threshold, SELL
    from -threshold. Plain data (the pages' cache pickles it): `terms` (agent, action, sign,
    confidence, weight, counted, contribution), the sums, `score`, `action` and `why`."""
    terms = votes[["agent", "action", "confidence", "weight", "source"]].copy()
    terms["sign"] = [Action(a).direction for a in terms["action"]]
    terms["counted"] = (terms["source"] != VoteSource.ABSTAIN.value) & (terms["weight"] > 0)
    terms["contribution"] = [
        w * s * c if counted else 0.0
        for w, s, c, counted in zip(
            terms["weight"], terms["sign"], terms["confidence"], terms["counted"], strict=True
        )
    ]
    counted = terms[terms["counted"]]
    total_weight = float(sum(counted["weight"]))
    weighted_sum = float(sum(counted["contribution"]))
    score = weighted_sum / total_weight if total_weight else 0.0
    if score >= threshold:
        action = Action.BUY
    elif score <= -threshold:
        action = Action.SELL
    else:
        action = Action.HOLD
    columns = ["agent", "action", "sign", "confidence", "weight", "counted", "contribution"]
    return {
        "terms": terms[columns],
        "weighted_sum": weighted_sum,
        "total_weight": total_weight,
        "score": score,
        "threshold": threshold,
        "action": action.value,
        "why": _why(action.value, score, threshold, total_weight),
    }


def risk_verdict(decision: dict, orders: pd.DataFrame, refusals: pd.DataFrame) -> tuple[str, str]:
    """(verdict, why) from what the engine stored: the decision's outcome, the orders it
    sent and the refusals recorded against it."""
    outcome = decision["outcome"] or ""
    by_risk = refusals[refusals["source"] == "risk"] if not refusals.empty else refusals
    if not by_risk.empty:
        return "Rejected by risk", str(by_risk["reason"].iloc[-1])
    if outcome.startswith(RISK_REFUSED):
        return "Rejected by risk", outcome.removeprefix(RISK_REFUSED)
    if outcome.startswith(BROKER_REFUSED):
        return "Approved by risk, refused by the broker", outcome.removeprefix(BROKER_REFUSED)
    if not orders.empty:
        return "Approved by risk", outcome or "order sent"
    if decision["action"] == Action.HOLD:
        return "Not asked", "the consensus held: no order for risk to judge"
    return "Not asked", f"no order was sent: {outcome}" if outcome else "no order was sent"
