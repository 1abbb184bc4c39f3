"""The engine's market time, as any writer or page can know it without the engine's Clock.

The worker stamps each successful tick with both clocks (`heartbeat_at` on the wall,
`market_time` on the market). A simulated clock runs linearly at `clock_speed`, so from that
pair the market time at any wall instant is exact while that worker runs, up to
`TICKS_AHEAD` ticks past its last heartbeat: a hung worker's market stands still, so a stale
heartbeat is not run on (a 10-minute hang at speed 60 would stamp events 10 market hours
ahead). With no worker running, a simulated clock stands where it stopped (the next worker
resumes from there). A clock that keeps wall time is the wall, running, hung or stopped.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from data.store.db import as_utc, utcnow
from data.store.models import EngineState

# A market time this close to its heartbeat is the wall clock's (a real or speed-1 clock).
WALL_CLOCK_TOLERANCE = timedelta(seconds=2)
# How far past its last heartbeat a running worker's market time is read: two ticks, room for
# one slow tick. `DEFAULT_TICK_SECONDS` ([engine] tick_seconds' default) for a row written
# before workers recorded their tick.
TICKS_AHEAD = 2
DEFAULT_TICK_SECONDS = 60.0


def market_time_at(
    wall: datetime,
    market_time: datetime | None,
    heartbeat_at: datetime | None,
    clock_speed: float | None,
    worker_running: bool,
    tick_seconds: float | None = None,
) -> datetime | None:
    """Market time at wall instant `wall`; None before any engine ran. A running worker's
    clock runs on from its heartbeat for at most `TICKS_AHEAD` ticks of `tick_seconds`."""
    market_time, heartbeat_at = as_utc(market_time), as_utc(heartbeat_at)
    if market_time is None or heartbeat_at is None:
        return None
    speed = clock_speed or 1.0
    if speed == 1.0 and abs(market_time - heartbeat_at) <= WALL_CLOCK_TOLERANCE:
        return wall
    if worker_running and math.isfinite(speed):
        ahead = (wall - heartbeat_at) * speed
        limit = timedelta(seconds=TICKS_AHEAD * (tick_seconds or DEFAULT_TICK_SECONDS))
        return market_time + min(ahead, limit)
    return market_time


def market_time_of(state: EngineState | dict | None, wall: datetime) -> datetime | None:
    """`market_time_at` for an engine_state row (a model or its dict)."""
    if state is None:
        return None
    get = state.get if isinstance(state, dict) else lambda name: getattr(state, name)
    heartbeat = as_utc(get("heartbeat_at"))
    started = as_utc(get("worker_started_at"))
    # Only this worker's heartbeat runs on: one left by a stopped worker stood still since.
    running = bool(get("worker_pid")) and heartbeat is not None
    if running and started is not None:
        running = heartbeat >= started
    return market_time_at(
        wall,
        get("market_time"),
        heartbeat,
        get("clock_speed"),
        running,
        tick_seconds=get("tick_seconds"),
    )


def market_now(session: Session, wall: datetime | None = None) -> datetime | None:
    """The market time now (or at `wall`), read from the engine_state row in `session`."""
    return market_time_of(session.get(EngineState, 1), wall or utcnow())
