"""The worker pauses and resumes entries and closes a position on request, through risk."""

import threading

from sqlalchemy import select

from config import load_config
from data.store.commands import get_command, submit_command
from data.store.models import Position, Trade
from engine.clock import FastForwardClock
from engine.runtime.worker import Worker
from tests.support.runs import START, run_ticks


def make_worker(store) -> Worker:
    worker = Worker(load_config(), store[1], speed=1000.0)
    worker.clock = FastForwardClock(START)
    worker.trader.clock = worker.clock
    return worker


def test_pause_stops_entries_and_resume_restarts_them(store):
    worker = make_worker(store)
    pause = submit_command(store[1], "pause")
    worker.handle_commands()
    assert get_command(store[1], pause).status == "done"
    assert worker.trader.entries_paused
    run_ticks(worker.trader, worker.clock, market_hours=12)
    with store[1]() as session:
        assert session.scalars(select(Position)).all() == []
    resume = submit_command(store[1], "resume")
    worker.handle_commands()
    assert get_command(store[1], resume).result == "entries resumed"
    assert not worker.trader.entries_paused


def test_close_position_command_closes_through_risk_with_manual_reason(store):
    worker = make_worker(store)
    for _ in range(48):
        run_ticks(worker.trader, worker.clock, market_hours=1)
        with store[1]() as session:
            position = session.scalars(select(Position)).first()
        if position:
            break
    assert position is not None
    command = submit_command(store[1], "close_position", {"pair": position.pair})
    worker.handle_commands()
    done = get_command(store[1], command)
    assert done.status == "done", done.result
    assert done.result.startswith(f"closed {position.pair}")
    with store[1]() as session:
        assert session.get(Position, position.pair) is None
        trade = session.scalars(select(Trade).order_by(Trade.id.desc())).first()
    assert trade.exit_reason == "manual"


def test_closing_a_pair_with_no_position_fails_with_a_reason(store):
    worker = make_worker(store)
    command = submit_command(store[1], "close_position", {"pair": "ETH/USDT"})
    worker.handle_commands()
    done = get_command(store[1], command)
    assert done.status == "failed" and "no open position" in done.result


def test_worker_stops_when_asked_and_records_the_stop(store):
    worker = make_worker(store)
    threading.Timer(0.5, worker.stop_requested.set).start()
    assert worker.run() == 0
    with store[1]() as session:
        from data.store.state import load_state

        assert load_state(session).status == "stopped"


def test_a_failing_tick_is_an_event_with_traceback_and_no_heartbeat(store, monkeypatch):
    import logging

    from data.store.events import EventsHandler
    from data.store.models import Event
    from data.store.state import read_state

    worker = make_worker(store)

    def feed_down(*_args, **_kwargs):
        worker.stop_requested.set()  # one failing tick is enough
        raise ConnectionError("feed unreachable (test)")

    monkeypatch.setattr(worker.trader.feed, "candles", feed_down)
    handler = EventsHandler(store[1], "worker")
    logging.getLogger().addHandler(handler)
    try:
        assert worker.run() == 0
        handler.flush()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    with store[1]() as session:
        events = session.scalars(select(Event).where(Event.level == "ERROR")).all()
    assert events and "ConnectionError: feed unreachable (test)" in events[0].traceback
    assert read_state(store[1]).heartbeat_at is None


def test_a_worker_stops_by_itself_when_the_engine_is_halted(store):
    from data.store.state import update_state

    worker = make_worker(store)
    update_state(store[1], halted=True, halt_reason="kill switch (command #9)")
    safety_net = threading.Timer(60, worker.stop_requested.set)  # never its way out
    safety_net.start()
    try:
        assert worker.run() == 0
    finally:
        safety_net.cancel()
    assert not worker.stop_requested.is_set(), "the worker stopped only when told to"


def test_a_command_left_claimed_by_a_dead_worker_is_marked_interrupted(store):
    from data.store.commands import claim_next_command

    command = submit_command(store[1], "pause")
    assert claim_next_command(store[1], frozenset({"pause"}), "worker").id == command
    worker = make_worker(store)  # a new worker starts after the old one died
    threading.Timer(0.3, worker.stop_requested.set).start()
    worker.run()
    interrupted = get_command(store[1], command)
    assert interrupted.status == "failed"
    assert interrupted.result.startswith("interrupted: the worker stopped before finishing")
