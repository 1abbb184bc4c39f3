"""The parts that trade one account, whoever trades it: the loop, or the kill switch with
the worker dead. No agents and no loop, so closing positions never needs either."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agents.auditor import AuditLimits
from engine.clock import Clock
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

    def stores(self) -> list[Engine]:
        """The engine's store and the broker's own, if it keeps one (the paper exchange)."""
        return [self.factory.kw["bind"], *getattr(self.broker, "engines", [])]
