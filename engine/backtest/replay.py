"""Agents that cannot be vectorised (the LLM, the HTTP Fear & Greed index) abstain in a
backtest, unless the live run stored their replies for the same pair and candle: those are
replayed as they were given (an abstention stays one). The LLM's are replayed only when
they came from the model configured now and the prompt version in use: another model's, or
another prompt's, say nothing of the team being tested."""

from __future__ import annotations

from collections.abc import Callable

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


def replay_note(label: str, counts: list[StoredVotes]) -> str:
    """What the backtest made of an agent's stored replies, votes and abstentions apart."""
    votes = sum(c.replayed for c in counts)
    abstained = sum(c.abstained for c in counts)
    skipped = sum(c.skipped for c in counts)
    replayed = [_count(votes, "stored vote"), _count(abstained, "stored abstention")]
    how = "replayed " + " and ".join(p for p in replayed if p) if votes or abstained else ""
    how = how or "abstained"
    if skipped:
        how += f"; {_count(skipped, 'reply')} from another model or prompt version not replayed"
    return f"{label}: {how}"


def _count(n: int, noun: str) -> str:
    if not n:
        return ""
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _replayable(name: str, settings: Settings | None) -> Callable[[dict | None], bool]:
    """Which stored replies of agent `name` may be replayed: the LLM's from the model set
    now and the prompt version in use; any other agent's, all."""
    if name != "llm" or settings is None:
        return lambda data: True
    from agents.llm.prompt import PROMPT_VERSION  # the LLM's client only when it is replayed

    model = settings.agents.llm.model

    def same(data: dict | None) -> bool:
        data = data or {}
        return data.get("model") == model and data.get("prompt_version") == PROMPT_VERSION

    return same


def stored_votes(
    store: Engine | None,
    names: list[str],
    pair: str,
    index: pd.DatetimeIndex,
    settings: Settings | None = None,
) -> list[StoredVotes]:
    """Each agent's stored replies for `pair` on `index`'s candles; `settings`: the LLM's
    are kept only from its model and prompt version (see `_replayable`)."""
    out = []
    for name in names:
        direction = np.zeros(len(index))
        confidence = np.full(len(index), np.nan)
        replayed = abstained = skipped = 0
        replayable = _replayable(name, settings)
        if store is not None and len(index):
            statement = (
                select(
                    Decision.candle_ts,
                    VoteRow.action,
                    VoteRow.confidence,
                    VoteRow.source,
                    VoteRow.data,
                )
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
            for candle_ts, action, conf, source, data in rows:
                row = positions.get(pd.Timestamp(as_utc(candle_ts)))
                if row is None:
                    continue
                if not replayable(data):
                    skipped += 1
                    continue
                if source == VoteSource.ABSTAIN.value:
                    abstained += 1
                    continue
                replayed += 1
                direction[row] = Action(action).direction
                confidence[row] = conf
        out.append(StoredVotes(name, direction, confidence, replayed, abstained, skipped))
    return out
