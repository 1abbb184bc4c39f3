"""Fault injection for soak tests. Never active unless VOLT_FAULTS_FILE names a plan and an
entry point (`python -m engine run|supervise`) installs it; production never imports this.

The plan is a JSON file the soak rewrites while the engine runs, e.g.
{"seed": 7, "feed_error_rate": 0.02, "feed_down_until": 1763700000.0,
 "broker_timeout_rate": 0.1, "crash_after_submit": "n1"}
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from engine.venues.broker import Broker, BrokerFill
from engine.venues.errors import OrderStatusUnknown, TemporaryError
from engine.venues.feed import Feed
from risk import ApprovedOrder

log = logging.getLogger("volt.faults")
FAULTS_ENV = "VOLT_FAULTS_FILE"


class FaultPlan:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self._plan: dict = {}
        self._rng = random.Random()

    def _current(self) -> dict:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            self._plan = json.loads(self.path.read_text() or "{}")
            self._rng.seed(f"{self._plan.get('seed', 0)}-{os.getpid()}")
            self._mtime = mtime
        return self._plan

    def feed_fails(self) -> bool:
        plan = self._current()
        if plan.get("feed_down_until", 0) > time.time():
            return True
        return self._rng.random() < plan.get("feed_error_rate", 0.0)

    def broker_times_out(self) -> bool:
        return self._rng.random() < self._current().get("broker_timeout_rate", 0.0)

    def crash_after_submit(self) -> bool:
        """Once per plan nonce: die right after the exchange accepted an order."""
        return self._once("crash_after_submit")

    def timeout_after_submit(self) -> bool:
        """Once per plan nonce: lose the answer to an order the exchange accepted."""
        return self._once("timeout_after_submit")

    def _once(self, fault: str) -> bool:
        # A marker file, so a restarted worker does not repeat the same fault.
        nonce = self._current().get(fault)
        if not nonce:
            return False
        marker = self.path.with_name(f"{self.path.name}.{fault}-{nonce}")
        if marker.exists():
            return False
        marker.touch()
        return True


class FaultyFeed:
    def __init__(self, inner: Feed, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan
        self.name, self.simulated = inner.name, inner.simulated

    def candles(self, pair: str, until: datetime, limit: int) -> pd.DataFrame:
        if self.plan.feed_fails():
            raise TemporaryError(f"injected fault: {self.name} feed connection reset")
        return self.inner.candles(pair, until, limit)

    def opening_price(self, pair: str, now: datetime) -> float | None:
        return self.inner.opening_price(pair, now)


class FaultyBroker:
    """Accepts the order at the exchange, then 'times out' before the answer arrives."""

    def __init__(self, inner: Broker, plan: FaultPlan) -> None:
        self.inner, self.plan = inner, plan
        self.name = inner.name

    def submit(self, order: ApprovedOrder, now: datetime) -> BrokerFill:
        fill = self.inner.submit(order, now)
        if self.plan.crash_after_submit():
            # Between the exchange's commit and the engine's: the hardest moment to die.
            os.kill(os.getpid(), signal.SIGKILL)
        if self.plan.timeout_after_submit() or self.plan.broker_times_out():
            raise OrderStatusUnknown("injected fault: timed out after the exchange accepted it")
        return fill

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def install_faults() -> bool:
    """Wrap every feed and broker engine.wiring builds from now on in the plan VOLT_FAULTS_FILE
    names; False (nothing installed) when it names none."""
    path = os.environ.get(FAULTS_ENV)
    if not path:
        return False
    from engine import wiring

    plan = FaultPlan(Path(path))

    def faulty_broker(broker: Broker) -> Broker:
        log.warning(
            "FAULT INJECTION ACTIVE from %s: for soak tests only", path, extra={"kind": "faults"}
        )
        return FaultyBroker(broker, plan)

    wiring.feed_wrappers.append(lambda feed: FaultyFeed(feed, plan))
    wiring.broker_wrappers.append(faulty_broker)
    return True
