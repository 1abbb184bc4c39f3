"""The team's decision on a pair's latest candle: indicators (the last row only), every
agent's vote, the market regime and the weighted consensus. Nothing is written here."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agents import LiveAgent, MarketBrief, RegimeLimits, RuleAgent, weigh_votes
from agents.base import agent_votes, vote_from_frame
from agents.regime import RegimeAgent, regime_columns, regime_name
from data.market.indicators import indicator_arrays
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.market.rows import LAST_ROW
from data.store.models import JournalEntry, Position
from data.types import Vote
from engine.trading import journal
from engine.trading.tick_records import DecisionPlan

log = logging.getLogger("volt.trader")
INDICATOR_SNAPSHOT = ("rsi", "macd", "macd_signal", "bb_lower", "bb_middle", "bb_upper", "atr")


class Team:
    """The agents, their weights (adapted by learning: the same dict) and the thresholds;
    the indicators and the regime computed with `periods` (the agents built with the same).

    A pair with fewer candles than `warmup` (a new listing, a short replay) gets no decision
    and no decision row, only a log line while it warms up: a vote on cold windows is not a
    decision to store, learn from or show. See `decision_warmup`."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        agents: list[RuleAgent],
        live_agents: list[LiveAgent],
        weights: dict[str, float],
        thresholds: dict[str, float],
        regime_limits: RegimeLimits,
        warmup: int = 0,
        periods: IndicatorPeriods = DEFAULT_PERIODS,
    ) -> None:
        self.factory = factory
        self.agents, self.live_agents = agents, live_agents
        self.weights, self.thresholds, self.regime_limits = weights, thresholds, regime_limits
        self.warmup, self.periods = warmup, periods
        self.warming: dict[str, int] = {}  # pair -> candles seen, while it warms up
        # While the live agents wait: the worker's stop ends the wait, `meanwhile` (the
        # worker's commands) runs every few tenths of a second.
        self.stop_waiting: threading.Event | None = None
        self.meanwhile: Callable[[], None] | None = None
        self._asking: LiveVotes | None = None

    @contextmanager
    def live_votes_together(self) -> Iterator[LiveVotes]:
        """Plans made inside leave out the live agents' votes and keep their briefs; the
        `LiveVotes` yielded then asks the live agents for every pair at once."""
        self._asking = LiveVotes(self)
        try:
            yield self._asking
        finally:
            self._asking = None

    def live_votes(self, briefs: list[MarketBrief]) -> dict[str, list[Vote]]:
        """Each live agent's vote on each brief, by pair: an agent that can (`vote_all`,
        the LLM) is asked for every pair at once within its own budget; the others in turn."""
        votes: dict[str, list[Vote]] = {brief.pair: [] for brief in briefs}
        for agent in self.live_agents:
            vote_all = getattr(agent, "vote_all", None)
            if vote_all is not None:
                given = vote_all(briefs, stop=self.stop_waiting, meanwhile=self.meanwhile)
            else:
                given = [agent.vote(brief) for brief in briefs]
            for brief, vote in zip(briefs, given, strict=True):
                votes[brief.pair].append(vote)
        return votes

    def plan(
        self, pair: str, candles: pd.DataFrame, position: Position | None
    ) -> DecisionPlan | None:
        """The team's decision on the latest of `candles`, or None while the pair warms up;
        `position` goes into the live agents' brief only."""
        if len(candles) < self.warmup:
            self._warming_up(pair, len(candles))
            return None
        self.warming.pop(pair, None)
        candle_ts = candles.index[-1].to_pydatetime()
        # Only the last row of each column is read: LAST_ROW computes no other.
        columns = indicator_arrays(candles, LAST_ROW, self.periods)
        frame = cache(
            lambda: pd.DataFrame(
                indicator_arrays(candles, periods=self.periods), index=candles.index
            )
        )
        vote_columns = [agent_votes(agent, columns, frame, LAST_ROW) for agent in self.agents]
        votes = [
            vote_from_frame(agent, rows, len(candles))
            for agent, rows in zip(self.agents, vote_columns, strict=True)
        ]
        # The regime sets how sure the team must be, whatever weight the regime agent has.
        regime = regime_name(self._regime_code(columns, vote_columns)) or "normal"
        if self.live_agents:
            brief = self.market_brief(pair, columns, candle_ts, regime, position)
            if self._asking is not None:  # asked with every other pair's, see `LiveVotes`
                self._asking.briefs[pair] = brief
            else:
                votes += [vote for [vote] in self.live_votes([brief]).values()]
        return DecisionPlan(
            pair,
            candle_ts,
            float(columns["close"][-1]),
            float(columns["atr"][-1]),
            regime,
            weigh_votes(votes, self.weights, self.thresholds[regime]),
        )

    def _warming_up(self, pair: str, seen: int) -> None:
        if pair not in self.warming:  # said once, not every candle
            log.info(
                "%s: warming up, %d of %d candles; no decision until every window is warm",
                pair,
                seen,
                self.warmup,
                extra={"kind": "warmup"},
            )
        self.warming[pair] = seen

    def _regime_code(self, columns: dict[str, np.ndarray], vote_columns: list) -> float:
        """The regime agent's reading when it reads as the trader does (not classified twice)."""
        for agent, rows in zip(self.agents, vote_columns, strict=True):
            if (
                isinstance(agent, RegimeAgent)
                and agent.window is None
                and agent.limits == self.regime_limits
                and agent.periods == self.periods
            ):
                return float(np.asarray(rows["regime_code"])[-1])
        codes = regime_columns(columns, self.regime_limits, rows=LAST_ROW, periods=self.periods)
        codes = codes["regime_code"]
        return float(codes[-1])

    def market_brief(
        self,
        pair: str,
        columns: dict[str, np.ndarray],
        candle_ts: datetime,
        regime: str,
        position: Position | None,
    ) -> MarketBrief:
        """What the live agents are told: the last indicators, the position, the outcomes."""
        last = {name: float(columns[name][-1]) for name in INDICATOR_SNAPSHOT if name in columns}
        indicators = {name: value for name, value in last.items() if not math.isnan(value)}
        price = float(columns["close"][-1])
        held = None
        if position is not None:
            held = {
                "entry_price": position.entry_price,
                "amount": position.amount,
                "stop_loss": position.stop_loss,
                "take_profit": position.take_profit,
                "unrealised_pct": (price / position.entry_price - 1) * 100,
            }
        with self.factory() as session:
            recent = session.scalars(
                select(JournalEntry)
                .where(JournalEntry.outcome != journal.PENDING)
                .order_by(JournalEntry.id.desc())
                .limit(5)
            ).all()
            outcomes = [
                f"{e.pair} {e.action} -> {e.outcome} {e.pnl_pct or 0.0:+.1%}" for e in recent
            ]
        return MarketBrief(
            pair=pair,
            price=price,
            candle_time=candle_ts,
            indicators=indicators,
            regime=regime,
            position=held,
            recent_outcomes=outcomes,
        )

    def llm_status(self) -> dict | None:
        """The LLM agent's health for the dashboard, or None when it is not on the team."""
        for agent in self.live_agents:
            if agent.name == "llm":
                return dataclasses.asdict(agent.status())
        return None


class LiveVotes:
    """The briefs of the plans made in `Team.live_votes_together`, and their live votes."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self.briefs: dict[str, MarketBrief] = {}

    def votes(self, plans: dict[str, DecisionPlan]) -> dict[str, DecisionPlan]:
        """Each plan with its pair's live votes weighed in (the live agents asked once,
        for all these pairs)."""
        team = self.team
        briefs = [self.briefs[pair] for pair in plans if pair in self.briefs]
        if not briefs:
            return plans
        live = team.live_votes(briefs)
        return {
            pair: dataclasses.replace(
                plan,
                consensus=weigh_votes(
                    [*plan.consensus.votes, *live[pair]],
                    team.weights,
                    team.thresholds[plan.regime],
                ),
            )
            if pair in live
            else plan
            for pair, plan in plans.items()
        }
