"""Agents that cannot be vectorised (the LLM, the HTTP Fear & Greed index) abstain in a
backtest, unless the live run stored their replies for the same pair and candle: those are
replayed as they were given (an abstention stays one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from config import Settings
from data.store.db import as_utc
from data.store.models import Decision, VoteRow
from data.types import Action, VoteSource
from engine.backtest.signals import StoredVotes


def live_agent_names(settings: Settings) -> list[str]:
    """Agents on the team that are asked one decision at a time, as `build_live_agents`."""
    weights, names = settings.agents.weights, []
    if weights.get("sentiment", 0) > 0 and settings.agents.sentiment.source == "fear_greed":
        names.append("sentiment")
    if weights.get("llm", 0) > 0:
        names.append("llm")
    return names


def stored_votes(
    store: Engine | None, names: list[str], pair: str, index: pd.DatetimeIndex
) -> list[StoredVotes]:
    out = []
    for name in names:
        direction = np.zeros(len(index))
        confidence = np.full(len(index), np.nan)
        replayed = 0
        if store is not None and len(index):
            statement = (
                select(Decision.candle_ts, VoteRow.action, VoteRow.confidence, VoteRow.source)
                .join(VoteRow, VoteRow.decision_id == Decision.id)
                .where(
                    Decision.pair == pair,
                    VoteRow.agent == name,
                    Decision.candle_ts >= index[0].to_pydatetime(),
                    Decision.candle_ts <= index[-1].to_pydatetime(),
                )
            )
            with store.connect() as conn:
                rows = conn.execute(statement).all()
            positions = {ts: i for i, ts in enumerate(index)}
            for candle_ts, action, conf, source in rows:
                row = positions.get(pd.Timestamp(as_utc(candle_ts)))
                if row is None:
                    continue
                replayed += 1
                if source == VoteSource.ABSTAIN.value:
                    continue
                direction[row] = Action(action).direction
                confidence[row] = conf
        out.append(StoredVotes(name, direction, confidence, replayed))
    return out
