"""A market that follows a given price path and an agent that votes from a script, so a
test decides what the market and the team do and watches what risk lets through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from agents import RegimeLimits
from config import Settings, load_config
from data.store.db import make_engine, make_session_factory
from engine.clock import FastForwardClock
from engine.trading.decide import Team
from engine.trading.loop import Trader
from engine.venues.paper import PaperExchange, make_exchange_factory
from engine.wiring import build_gate

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)


class PathFeed:
    """Candle i opens at START + i*5m at the previous close and closes at closes[i]."""

    name = "path"
    simulated = True

    def __init__(self, closes: dict[str, list[float]], wick: float = 0.002) -> None:
        self.frames = {}
        for pair, path in closes.items():
            close = np.asarray(path, dtype=float)
            open_ = np.concatenate([[close[0]], close[:-1]])
            index = pd.DatetimeIndex([START + i * STEP for i in range(len(close))])
            self.frames[pair] = pd.DataFrame(
                {
                    "open": open_,
                    "high": np.maximum(open_, close) * (1 + wick),
                    "low": np.minimum(open_, close) * (1 - wick),
                    "close": close,
                    "volume": 1.0,
                },
                index=index,
            )

    def candles(self, pair: str, until: datetime, limit: int) -> pd.DataFrame:
        frame = self.frames[pair]
        closed = int((until - START) / STEP)
        return frame.iloc[max(0, min(closed, len(frame)) - limit) : max(0, closed)]


class ScriptedAgent:
    """Votes BUY (1), SELL (-1) or HOLD (0) with full confidence, candle by candle."""

    name = "scripted"

    def __init__(self, script: dict[str, list[int]]) -> None:
        self.script = script
        self.pair = ""

    def vote_frame(self, candles: pd.DataFrame) -> pd.DataFrame:
        steps = self.script[self.pair]
        positions = ((candles.index - START) / STEP).astype(int)
        direction = [steps[i] if i < len(steps) else 0 for i in positions]
        return pd.DataFrame({"direction": direction, "confidence": 1.0}, index=candles.index)

    def rationale(self, row: pd.Series) -> str:
        return "scripted"


class ScriptedTeam(Team):
    """Tells the scripted agent which pair it votes on."""

    def plan(self, pair, candles, position):
        for agent in self.agents:
            agent.pair = pair
        return super().plan(pair, candles, position)


class ScriptedTrader(Trader):
    """A Trader whose team is a `ScriptedTeam`."""

    def __init__(self, **parts) -> None:
        super().__init__(**parts)
        team = self.team
        self.team = ScriptedTeam(
            team.factory,
            team.agents,
            team.live_agents,
            team.weights,
            team.thresholds,
            team.regime_limits,
        )


def scripted_settings(**risk) -> Settings:
    settings = load_config()
    return settings.model_copy(update={"risk": settings.risk.model_copy(update=risk)})


def scripted_trader(
    home: Path,
    closes: dict[str, list[float]],
    script: dict[str, list[int]],
    settings: Settings | None = None,
    factory: sessionmaker[Session] | None = None,
) -> tuple[ScriptedTrader, FastForwardClock]:
    """A real Trader (risk gate, paper broker, SQLite) on a scripted market, in `home`."""
    settings = settings or load_config()
    if factory is None:
        factory = make_session_factory(make_engine(f"sqlite:///{home / 'volt.db'}"))
    broker = settings.broker
    clock = FastForwardClock(START + STEP)
    trader = ScriptedTrader(
        factory=factory,
        clock=clock,
        feed=PathFeed(closes),
        broker=PaperExchange(
            make_exchange_factory(f"sqlite:///{home / 'exchange.db'}"),
            broker.quote_currency,
            broker.starting_capital,
            broker.fee_rate,
            broker.slippage_rate,
        ),
        gate=build_gate(settings),
        agents=[ScriptedAgent(script)],
        weights={"scripted": 1.0},
        thresholds={"normal": 0.5, "high_volatility": 0.5, "crash": 0.5},
        regime_limits=RegimeLimits(),
        pairs=list(closes),
        timeframe="5m",
        history_candles=30,
    )
    return trader, clock


def with_protections(settings: Settings, **rules) -> Settings:
    protections = settings.risk.protections.model_copy(update=rules)
    return settings.model_copy(
        update={"risk": settings.risk.model_copy(update={"protections": protections})}
    )
