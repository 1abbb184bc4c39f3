"""The vote interface every agent implements, rule-based or not."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from data.market.rows import EVERY_ROW, EveryRow
from data.types import Action, Vote, VoteSource

# Vote frame columns: `direction` is 1 (BUY), -1 (SELL) or 0 (HOLD); `confidence` is 0..1.
# Any other columns are the numbers behind the rationale.
_ACTIONS = {1: Action.BUY, -1: Action.SELL, 0: Action.HOLD}


class RuleAgent(Protocol):
    name: str

    def vote_frame(self, candles: pd.DataFrame) -> pd.DataFrame:
        """Votes for every row of `candles` (which carries indicator columns)."""
        ...

    def rationale(self, row: Mapping[str, float]) -> str:
        """A sentence a trader can read, from one row of the vote frame (column -> value)."""
        ...


@dataclass(frozen=True)
class MarketBrief:
    """What an agent that cannot be vectorised (an LLM, an HTTP index) is told each decision."""

    pair: str
    price: float
    candle_time: datetime | str
    indicators: dict[str, float]  # rsi, macd, macd_signal, bb_lower, bb_upper, atr, ...
    regime: str
    # entry_price, amount, stop_loss, take_profit, unrealised_pct (percent, e.g. 1.8)
    position: dict[str, float] | None = None
    # Newest first: "BTC/USDT BUY → WIN +1.2%"
    recent_outcomes: Sequence[str] = field(default_factory=tuple)


class LiveAgent(Protocol):
    """An agent asked one decision at a time; it must never raise and never stall the loop."""

    name: str

    def vote(self, brief: MarketBrief) -> Vote: ...


class ColumnAgent:
    """A rule agent that votes on plain arrays (`vote_columns(columns, rows)`); the frame
    a backtest reads wraps the same columns."""

    def vote_frame(self, candles: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.vote_columns(candles), index=candles.index)


def agent_votes(
    agent: RuleAgent,
    columns: Mapping[str, np.ndarray],
    frame: Callable[[], pd.DataFrame],
    rows: EveryRow = EVERY_ROW,
) -> Mapping[str, ArrayLike]:
    """The agent's vote columns. An agent may offer `vote_columns(columns, rows)`, the same
    votes from plain arrays (with `LAST_ROW`, only the last row's), which spares the live
    loop pandas' cost per call; otherwise its `vote_frame` reads the DataFrame `frame()`
    builds, every row's indicators included."""
    own = getattr(agent, "vote_columns", None)
    return own(columns, rows) if own is not None else agent.vote_frame(frame())


def latest_vote(agent: RuleAgent, candles: pd.DataFrame) -> Vote:
    """Live trading reads the last row of the same frame a backtest reads whole."""
    return vote_from_frame(agent, agent.vote_frame(candles), len(candles))


def vote_from_frame(agent: RuleAgent, votes: Mapping[str, ArrayLike], candles_seen: int) -> Vote:
    """The vote on the last row of `agent`'s vote frame over `candles_seen` candles."""
    # The last row as plain floats (read a dozen times below), from a frame or a mapping.
    row = {key: float(np.asarray(values)[-1]) for key, values in votes.items()}
    data = {
        key: round(float(value), 6)
        for key, value in row.items()
        if key not in ("direction", "confidence") and not math.isnan(float(value))
    }
    if math.isnan(float(row["confidence"])):
        return Vote(
            agent.name,
            Action.HOLD,
            0.0,
            f"not enough candles yet ({candles_seen}) for the indicators to warm up",
            VoteSource.ABSTAIN,
            data,
        )
    return Vote(
        agent.name,
        _ACTIONS[int(row["direction"])],
        float(row["confidence"]),
        agent.rationale(row),
        VoteSource.RULE,
        data,
    )
