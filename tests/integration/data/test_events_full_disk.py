"""The events writer on a full disk: it keeps running, keeps what fits in a bounded buffer,
counts what it dropped and writes again by itself once space returns."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from data.store import events
from data.store.db import make_engine, make_session_factory
from data.store.events import EventsHandler
from data.store.models import Event
from tests.support.disk import fill, small_disk


def _logger(handler: EventsHandler) -> logging.Logger:
    log = logging.getLogger(f"volt.test.events.{id(handler)}")
    log.propagate = False
    log.addHandler(handler)
    return log


def _messages(factory) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(Event.message).order_by(Event.id)))


def test_the_writer_survives_a_full_disk_and_says_what_it_dropped(tmp_path, capfd):
    with small_disk(tmp_path / "disk", "2m") as disk:
        engine = make_engine(f"sqlite:///{disk / 'volt.db'}")
        factory = make_session_factory(engine)
        handler = EventsHandler(factory, "worker", max_pending=3, retry_seconds=0.02)
        log = _logger(handler)
        log.warning("before the disk filled")
        assert handler.flush(5)
        fill(disk)
        for n in range(200):  # enough to outgrow the write-ahead log's reusable pages
            log.warning("while full %d %s", n, "x" * 2000)
        assert not handler.flush(1.0), "a full disk took every row"
        assert handler._writer.is_alive()
        assert handler.dropped > 0
        (disk / "filler").unlink()
        assert handler.flush(10), "the writer did not resume once space returned"
        log.warning("after space returned")
        assert handler.flush(5)
        handler.close()
        messages = _messages(factory)
        engine.dispose()
    assert messages[0] == "before the disk filled"
    assert messages[-1] == "after space returned"
    assert "while full 0 " in messages[2]  # the buffered rows, oldest first
    resumed = [m for m in messages if m.startswith("events are stored again")]
    assert len(resumed) == 1 and "full" in resumed[0]
    assert "event(s) dropped meanwhile" in resumed[0]
    assert capfd.readouterr().err.count("events cannot be stored") == 1


def test_why_the_store_refused_an_event_reaches_the_log_with_its_traceback(
    tmp_path, monkeypatch, caplog
):
    engine = make_engine(f"sqlite:///{tmp_path / 'volt.db'}")
    factory = make_session_factory(engine)
    real, refusals = events.record_event, []

    def refused_once(*args, **kwargs):
        if not refusals:
            refusals.append(1)
            raise RuntimeError("deque mutated during iteration")
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "record_event", refused_once)
    handler = EventsHandler(factory, "worker", retry_seconds=0.02)
    with caplog.at_level(logging.WARNING, logger="volt.events"):
        _logger(handler).warning("the first event")
        assert handler.flush(10)
    handler.close()
    messages = _messages(factory)
    engine.dispose()

    said = [r for r in caplog.records if r.name == "volt.events"]
    assert len(said) == 1 and "deque mutated during iteration" in said[0].getMessage()
    assert said[0].exc_info and said[0].exc_info[0] is RuntimeError
    assert messages[0].startswith("events are stored again after: deque mutated")
    assert messages[1] == "the first event"


def test_the_writers_own_log_line_never_waits_for_the_handlers_lock(tmp_path):
    """logging.shutdown holds each handler's lock while it flushes: the writer's report of a
    refused row (skip_events) must not wait for it, or the flush waits for the writer."""
    engine = make_engine(f"sqlite:///{tmp_path / 'volt.db'}")
    handler = EventsHandler(make_session_factory(engine), "worker")
    log = _logger(handler)
    handler.acquire()  # as logging.shutdown does
    try:
        said = threading.Thread(
            target=lambda: log.warning("the store refused a row", extra={"skip_events": True})
        )
        said.start()
        said.join(10)
        assert not said.is_alive(), "the log line waited for the events handler's lock"
    finally:
        handler.release()
        said.join()
    handler.close()
    engine.dispose()
