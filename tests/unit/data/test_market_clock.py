"""Events, commands and machine samples carry the engine's market time beside the wall's:
read from the worker's last heartbeat, which stamps both clocks at once."""

from datetime import UTC, datetime, timedelta

from data import queries
from data.store.commands import finish_command, submit_command
from data.store.events import record_event
from data.store.market_clock import market_time_at
from data.store.state import update_state
from engine.runtime.metrics import record_metrics

WALL = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
MARKET = datetime(2026, 12, 9, 23, 50, tzinfo=UTC)  # a fast clock, days ahead of the wall


def test_a_running_simulated_clock_runs_on_at_its_speed_from_the_heartbeat():
    wall = WALL + timedelta(seconds=1.5)
    later = market_time_at(wall, MARKET, WALL, 60.0, worker_running=True, tick_seconds=60.0)
    assert later == MARKET + timedelta(seconds=90)


def test_a_hung_workers_clock_runs_on_at_most_two_ticks_past_its_heartbeat():
    # Ten wall minutes at x60 would be ten market hours; a hung worker's market stood still.
    wall = WALL + timedelta(minutes=10)
    later = market_time_at(wall, MARKET, WALL, 60.0, worker_running=True, tick_seconds=60.0)
    assert later == MARKET + timedelta(minutes=2)


def test_a_wall_clock_engine_keeps_wall_time_even_when_its_worker_hangs():
    later = WALL + timedelta(minutes=10)
    assert market_time_at(later, WALL, WALL, 1.0, worker_running=True, tick_seconds=60.0) == later


def test_a_stopped_simulated_clock_stands_where_it_stopped():
    later = market_time_at(WALL + timedelta(hours=2), MARKET, WALL, 60.0, worker_running=False)
    assert later == MARKET


def test_a_stopped_wall_clock_engine_keeps_wall_time():
    later = WALL + timedelta(hours=2)
    assert market_time_at(later, WALL, WALL, 1.0, worker_running=False) == later


def test_before_any_engine_ran_there_is_no_market_time():
    assert market_time_at(WALL, None, None, 1.0, worker_running=False) is None


def test_events_commands_and_samples_are_stamped_with_market_time(store):
    engine, factory = store
    now = datetime.now(UTC)
    update_state(
        factory,
        worker_pid=4242,
        worker_started_at=now - timedelta(minutes=1),
        heartbeat_at=now,
        market_time=MARKET,
        clock_speed=60.0,
    )
    record_event(factory, "WARNING", "worker", "log", "entries resume at 00:10 UTC")
    finish_command(factory, submit_command(factory, "pause"), True, "paused")
    record_metrics(factory, None, retention_hours=1)

    event = queries.events(engine).iloc[0]
    command = queries.commands(engine).iloc[0]
    sample = queries.latest_metrics(engine)
    for market, wall in (
        (event.ts, event.wall_ts),
        (command.ts, command.wall_ts),
        (command.done_ts, command.done_wall_ts),
        (sample["ts"], sample["wall_ts"]),
    ):
        # The market clock runs 60x from MARKET: seconds of wall are minutes of market.
        assert abs(wall - now) < timedelta(seconds=30)
        assert MARKET <= market < MARKET + timedelta(minutes=30)


def test_events_of_a_hung_worker_are_stamped_at_most_two_of_its_ticks_ahead(store):
    engine, factory = store
    now = datetime.now(UTC)
    update_state(
        factory,
        worker_pid=4242,
        worker_started_at=now - timedelta(minutes=20),
        heartbeat_at=now - timedelta(minutes=10),  # hung for ten wall minutes
        market_time=MARKET,
        clock_speed=60.0,
        tick_seconds=30.0,
    )
    record_event(factory, "ERROR", "supervisor", "worker_hung", "no heartbeat for 10 minutes")
    assert queries.events(engine).iloc[0].ts == MARKET + timedelta(minutes=1)


def test_without_any_engine_pages_show_the_wall_time(store):
    engine, factory = store
    record_event(factory, "INFO", "supervisor", "start", "started")
    event = queries.events(engine).iloc[0]
    assert event.ts == event.wall_ts
