"""A VOLT store seeded by hand around one market midnight, for tests of what the pages say
"today": equity snapshots and round trips on both sides of the midnight, fees on every entry,
and an engine whose simulated clock stands just after that midnight, on a market day that is
not the wall clock's.

Every figure is chosen so the definitions that were wrong give other numbers: realised P&L
from the computer's midnight, equity change from the first snapshot of day one (fees left out).
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from data.store.db import transaction, utcnow
from data.store.models import EngineState, EquitySnapshot, Order, Trade
from tests.support.runs import ROOT, free_port, volt_env, wait_for

STARTING_CAPITAL = 10_000.0
# Far from any wall date the tests run on: a fast clock resumed after long runs gets there.
MARKET_DAY = datetime(2031, 3, 9)
ZONE = ZoneInfo("Asia/Tokyo")  # UTC+9 all year: its midnight is not UTC's, nor the machine's
CLOCK_SPEED = 60.0


@dataclass(frozen=True)
class MarketMidnight:
    day_start: datetime  # midnight of MARKET_DAY in the dashboard's zone, aware
    market_now: datetime  # where the engine's clock stands
    pnl_today: float  # equity now less the last snapshot before day_start
    realised_since_day_start: float


# (minutes from the market midnight, equity); the first entries' 10.00 of fees come before
# the first snapshot, so day one starts below the starting capital.
SNAPSHOTS = [
    (-14 * 60, 9_990.00),
    (-6 * 60, 10_040.00),
    (-5, 10_025.00),  # the day's opening equity
    (10, 10_001.75),
    (15, 9_987.40),  # equity now
]
# (minutes from midnight at entry, at exit, pnl, fees): one round trip closed each side.
ROUND_TRIPS = [(-14 * 60, -4 * 60, 30.00, 8.00), (-3 * 60, 5, -12.50, 4.00)]


def seed_market_midnight(
    factory: sessionmaker[Session],
    zone: tzinfo = ZONE,
    snapshots: list[tuple[int, float]] = SNAPSHOTS,
) -> MarketMidnight:
    """Write the rows around MARKET_DAY's midnight in `zone` and a stopped engine whose
    simulated clock stands 20 minutes after it; return the figures a page must show."""
    day_start = MARKET_DAY.replace(tzinfo=zone)
    at = lambda minutes: (day_start + timedelta(minutes=minutes)).astimezone(UTC)  # noqa: E731
    market_now = at(20)
    with transaction(factory) as session:
        for minutes, equity in snapshots:
            session.add(
                EquitySnapshot(ts=at(minutes), equity=equity, cash=equity, positions_value=0.0)
            )
        for number, (entered, left, pnl, fees) in enumerate(ROUND_TRIPS):
            orders = [
                _order(f"seed-{number}-{side}", at(t), side)
                for side, t in (("buy", entered), ("sell", left))
            ]
            session.add_all(orders)
            session.flush()
            session.add(
                Trade(
                    pair="BTC/USDT",
                    amount=0.01,
                    entry_ts=at(entered),
                    entry_price=50_000.0,
                    exit_ts=at(left),
                    exit_price=50_000.0 + (pnl + fees) / 0.01,
                    fees=fees,
                    pnl=pnl,
                    pnl_pct=pnl / 500.0,
                    exit_reason="signal",
                    entry_order_id=orders[0].id,
                    exit_order_id=orders[1].id,
                )
            )
        # A stopped worker: its simulated clock stands where it stopped, after the midnight.
        session.merge(
            EngineState(
                id=1,
                status="stopped",
                clock_speed=CLOCK_SPEED,
                feed="synthetic",
                heartbeat_at=utcnow() - timedelta(minutes=1),
                market_time=market_now,
            )
        )
    before = [equity for minutes, equity in snapshots if minutes < 0]
    opening = before[-1] if before else STARTING_CAPITAL
    return MarketMidnight(
        day_start=day_start,
        market_now=market_now,
        pnl_today=round(snapshots[-1][1] - opening, 2),
        realised_since_day_start=sum(pnl for _, left, pnl, _ in ROUND_TRIPS if left >= 0),
    )


def _order(client_id: str, ts: datetime, side: str) -> Order:
    return Order(
        client_order_id=client_id,
        ts=ts,
        pair="BTC/USDT",
        side=side,
        amount=0.01,
        price=50_000.0,
        status="filled",
    )


@contextmanager
def dashboard_on(home: Path, config: str) -> Iterator[str]:
    """`streamlit run app.py` alone (no engine) on a free loopback port, reading the store in
    `home` with `config`; yields its base URL and stops it afterwards."""
    (home / "volt.toml").write_text(config)
    port = free_port()
    env = volt_env(VOLT_HOME=str(home), VOLT_CONFIG=str(home / "volt.toml"))
    env.pop("VOLT_DB_URL", None)
    with open(home / "dashboard.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py",
             "--server.address", "127.0.0.1", "--server.port", str(port),
             "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base), 60, f"the dashboard (see {home / 'dashboard.log'})")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False
