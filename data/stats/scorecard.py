"""Each agent's record from the decision journal: accuracy and P&L contribution.

An agent's call is right when its vote pointed the way the market proved right on a
resolved decision; HOLD votes and abstentions do not count. P&L contribution splits each
round trip's realised P&L by the agents' signed shares of its entry's score, so the shares
add up to the realised P&L.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

_DIRECTIONS = {"BUY": 1, "SELL": -1, "HOLD": 0}


def market_direction(action: str, outcome: str, pnl: float | None) -> int:
    """Which way the market proved right: +1 (up, a buy was right), -1 (down), 0 unknown."""
    if outcome == "PENDING" or pnl is None or pd.isna(pnl):
        return 0
    if action == "BUY":
        return 1 if pnl > 0 else -1
    return -1 if pnl > 0 else 1  # a sell's P&L is the fall it spared


@dataclass(frozen=True)
class CallRecord:
    agent: str
    samples: int  # resolved decisions it took a side on, within the window
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.samples if self.samples else None


@dataclass(frozen=True)
class AgentRecord(CallRecord):
    pnl_contribution: float  # over every resolved decision, in quote currency


def call_records(calls: Mapping[str, Sequence[tuple]]) -> dict[str, CallRecord]:
    """Accuracy from each agent's recent calls, as (vote action, decision action, outcome,
    P&L) rows (`data.store.agent_calls.recent_calls`): `agent_records`' count, in plain Python."""
    records = {}
    for agent, rows in calls.items():
        correct = sum(
            _DIRECTIONS[vote] == market_direction(action, outcome, pnl)
            for vote, action, outcome, pnl in rows
        )
        records[agent] = CallRecord(agent, len(rows), correct)
    return records


def agent_records(votes: pd.DataFrame, window: int) -> dict[str, AgentRecord]:
    if votes.empty:
        return {}
    votes = votes.copy()
    votes["market_direction"] = [
        market_direction(a, o, p)
        for a, o, p in zip(votes["decision_action"], votes["outcome"], votes["pnl"], strict=True)
    ]
    votes["direction"] = votes["action"].map(_DIRECTIONS).fillna(0)
    counted = (votes["source"] != "abstain") & (votes["weight"] > 0)
    sign = votes["decision_action"].map(_DIRECTIONS).fillna(0)
    votes["push"] = (votes["weight"] * votes["direction"] * votes["confidence"] * sign).where(
        counted, 0.0
    )
    total_push = votes.groupby("decision_id")["push"].transform("sum")
    share = (votes["push"] / total_push).where(total_push > 0, 0.0)
    # Money only: a sell's "P&L" is the fall it spared, already in its round trip's result.
    realised = votes["pnl"].where(votes["decision_action"] == "BUY", 0.0)
    votes["contribution"] = share * realised
    records = {}
    for agent, rows in votes.groupby("agent", sort=True):
        called = rows[(rows["source"] != "abstain") & (rows["direction"] != 0)]
        recent = called.sort_values("resolved_at").tail(window)
        correct = int((recent["direction"] == recent["market_direction"]).sum())
        records[agent] = AgentRecord(
            agent, len(recent), correct, round(float(rows["contribution"].sum()), 6)
        )
    return records
