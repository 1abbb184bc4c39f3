"""Fixtures for tests against the loopback Binance: the server, testnet settings pointed at it,
a trader on them, and the events they log."""

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from config import load_config
from data.store.events import EventsHandler
from data.store.models import Event
from engine.clock import FastForwardClock
from engine.wiring import build_trader
from tests.support.binance import TESTNET, connect
from tests.support.fake_binance import API_KEY, API_SECRET, FakeBinance


@pytest.fixture
def fake():
    server = FakeBinance().start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path, monkeypatch, request):
    monkeypatch.setattr("engine.venues.retry.FIRST_WAIT_SECONDS", 0.01)  # backoff is wall time
    monkeypatch.setenv("VOLT_API_KEY", API_KEY)
    monkeypatch.setenv("VOLT_API_SECRET", API_SECRET)
    # A loaded CI machine can take a second to answer on loopback: 3 s, except where a test
    # times the client out on purpose (marked `client_timeout(1.0)`).
    marker = request.node.get_closest_marker("client_timeout")
    path = tmp_path / "testnet.toml"
    path.write_text(TESTNET.format(timeout=marker.args[0] if marker else 3.0))
    return load_config(path)


@pytest.fixture
def trader(settings, fake, store):
    trader = build_trader(
        settings, store[1], FastForwardClock(datetime.now(UTC)), connect(settings, fake)
    )
    return trader


@pytest.fixture
def events(store):
    handler = EventsHandler(store[1], "worker")
    logging.getLogger().addHandler(handler)

    def read() -> list[Event]:
        handler.flush()
        with store[1]() as session:
            return list(session.scalars(select(Event)))

    yield read
    logging.getLogger().removeHandler(handler)
    handler.close()
