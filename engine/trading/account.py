"""The parts that trade one account, whoever trades it: the loop, or the kill switch with
the worker dead. No agents and no loop, so closing positions never needs either."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agents.auditor import AuditLimits
from data.store.state import read_state
from engine.clock import Clock
from engine.venues.binance.client_ids import client_order_id
from engine.venues.broker import Broker
from engine.venues.feed import Feed
from risk import RiskGate


def default_audit_limits() -> AuditLimits:
    return AuditLimits(max_slippage=0.002, size_tolerance=0.001)


@dataclass
class Account:
    """What closing positions needs: the store, the clock, the market, the broker, the gate."""

    factory: sessionmaker[Session]
    clock: Clock
    feed: Feed
    broker: Broker
    gate: RiskGate
    marks: dict[str, float] = field(default_factory=dict)  # pair -> last price seen
    last_candle: dict[str, datetime] = field(default_factory=dict)  # for close ids
    audit_limits: AuditLimits = field(default_factory=default_audit_limits)
    generation: str = ""  # the store's order generation; see `order_id`

    @classmethod
    def of_store(cls, factory: sessionmaker[Session], *parts, **options) -> Account:
        """The account trading through the store of `factory`, under its order generation."""
        generation = read_state(factory).order_generation or ""
        return cls(factory, *parts, generation=generation, **options)

    def order_id(self, pair: str, candle_ts: datetime, tag: str) -> str:
        """The client order id of the account's order on `pair` for the candle at
        `candle_ts`: the same for the same decision, never one a lost store's orders had."""
        return client_order_id(pair, candle_ts, tag, self.generation)

    def stores(self) -> list[Engine]:
        """The engine's store and the broker's own, if it keeps one (the paper exchange)."""
        return [self.factory.kw["bind"], *getattr(self.broker, "engines", [])]
