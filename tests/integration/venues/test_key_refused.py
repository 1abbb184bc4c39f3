"""A key revoked mid-run against the loopback Binance, through the worker's own loop step: one
key_refused event and a published KEY REFUSED state instead of a traceback every tick, no
entry sent while refused, and one event and entries again once a signed call succeeds."""

import logging
from datetime import UTC, datetime, timedelta

import pytest

from config import Settings
from data.queries.system import engine_state
from data.store.models import Position, Trade
from data.types import Action
from engine.alerts.dispatcher import AlertDispatcher
from engine.clock import FastForwardClock
from engine.runtime.worker import Worker
from engine.trading import book
from engine.trading.execution import place_order, record_fill
from tests.support.binance import approve_buy, connect, decide


@pytest.fixture
def worker(settings, fake, store, monkeypatch):
    """A testnet worker on the loopback Binance that has ticked once with a working key."""
    monkeypatch.setattr("engine.wiring.build_exchange", lambda s: connect(s, fake))
    monkeypatch.setattr("engine.runtime.worker.KEY_PROBE_SECONDS", 0.0)  # probe every step
    # Ticks minutes apart: each reads the balance from the exchange, never from a cache.
    monkeypatch.setattr("engine.venues.ccxt.broker.BALANCE_TTL_SECONDS", 0.0)
    worker = Worker(settings, store[1])
    # Two hours behind the wall: the loopback exchange has every candle up to its wall clock.
    worker.clock = worker.trader.clock = FastForwardClock(datetime.now(UTC) - timedelta(hours=2))
    worker.step()
    assert engine_state(store[0])["status"] == "running"
    return worker


def a_new_candle(worker):
    """Five minutes on: the next tick has a new 5-minute candle for each pair."""
    worker.clock.advance(300)


def buy(worker, pair="ETH/USDT"):
    """A decision to buy on a candle no tick decided, booked as a tick books it."""
    candle = worker.clock.now() + timedelta(seconds=1)
    return decide(worker.trader, Action.BUY, candle, pair, 3_000.0)


def test_a_revoked_key_is_one_event_and_a_state_not_a_traceback_every_tick(
    worker, fake, store, events, caplog
):
    fake.revoke_key()
    with caplog.at_level(logging.INFO):
        for _ in range(4):
            a_new_candle(worker)
            worker.step()
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == []
    refused = [e.message for e in events() if e.kind == "key_refused"]
    assert len(refused) == 1 and "refused the API key" in refused[0]
    assert "-2015" in refused[0] and "SHOULD-NEVER-BE-SEEN" not in refused[0]
    state = engine_state(store[0])
    assert state["status"] == "key refused"
    assert "Invalid API-key, IP, or permissions" in state["key_refused"]
    assert "must be a testnet key for testnet" in state["key_refused"]
    assert state["key_refused_at"] is not None
    assert "refused the API key: new entries paused" in state["entry_blocks"]
    assert not worker.stop_requested.is_set()


def test_the_worker_keeps_ticking_while_the_key_is_refused(worker, fake, store):
    fake.revoke_key()
    a_new_candle(worker)
    worker.step()
    first = engine_state(store[0])["heartbeat_at"]
    a_new_candle(worker)
    worker.step()
    assert engine_state(store[0])["heartbeat_at"] > first  # a tick that went through


def test_no_entry_is_sent_while_the_key_is_refused(worker, fake):
    fake.revoke_key()
    a_new_candle(worker)
    worker.step()
    outcome = buy(worker)
    assert outcome.startswith("entries paused: binance testnet refused the API key")
    assert fake.calls("POST", "/api/v3/order") == []


def test_a_signed_call_that_succeeds_again_is_one_event_and_entries_resume(
    worker, fake, store, events
):
    fake.revoke_key()
    for _ in range(2):
        a_new_candle(worker)
        worker.step()
    fake.restore_key()
    worker.step()  # its probe of the balance succeeds
    worker.step()
    accepted = [e.message for e in events() if e.kind == "key_accepted"]
    assert len(accepted) == 1 and "accepted the API key again" in accepted[0]
    state = engine_state(store[0])
    assert state["status"] == "running" and not state["key_refused"]
    assert "refused" not in (state["entry_blocks"] or "")
    assert not buy(worker).startswith("entries paused")
    assert len(fake.calls("POST", "/api/v3/order")) == 1


def test_a_key_refused_again_later_is_a_new_event(worker, fake, events):
    for _ in range(2):
        fake.revoke_key()
        a_new_candle(worker)
        worker.step()
        fake.restore_key()
        worker.step()
    kinds = [e.kind for e in events() if e.kind in ("key_refused", "key_accepted")]
    assert kinds == ["key_refused", "key_accepted"] * 2


def test_public_calls_alone_do_not_clear_a_refused_key(worker, fake):
    fake.revoke_key()
    worker.step()
    worker.trader.feed.last_price("BTC/USDT")  # the ticker: public, answered
    assert worker.trader.exchange.key_refusal is not None


def test_a_refused_key_is_one_alert_however_many_ticks_it_lasts(
    worker, fake, store, events, webhook
):
    settings = Settings.model_validate({"alerts": {"urls": [webhook.url()]}})
    dispatcher = AlertDispatcher(settings, store[1])
    dispatcher.prime()
    dispatcher.sender.start()
    fake.revoke_key()
    for _ in range(3):
        a_new_candle(worker)
        worker.step()
    fake.restore_key()
    worker.step()
    events()  # the worker's events, in the store
    dispatcher.poll_once()
    assert dispatcher.sender.close(15)
    titles = [body["title"] for body in webhook.bodies]
    assert titles == ["VOLT API key refused: orders and balances are refused"]
    assert "-2015" in webhook.bodies[0]["message"]


def test_a_stop_met_while_the_key_is_refused_is_said_once_and_sent_once_it_works(
    worker, fake, store, events, caplog
):
    trader = worker.trader
    fill = place_order(trader.broker, approve_buy(trader), datetime.now(UTC))
    with store[1].begin() as session:
        order, row = record_fill(session, fill, "signal", None)
        book.record_entry(session, order, row, 70_000.0, 90_000.0)  # the next candle meets it
        session.get(Position, "BTC/USDT").entry_ts = worker.clock.now()
    fake.revoke_key()
    with caplog.at_level(logging.INFO):
        for _ in range(6):
            a_new_candle(worker)
            worker.step()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    said = [e for e in events() if "BTC/USDT" in e.message and e.level == "ERROR"]
    assert [e.kind for e in said] == ["exit_refused"]
    assert [e for e in events() if e.kind == "feed_error" and "KeyRefused" in e.message] == []
    fake.restore_key()
    for _ in range(12):  # the exit's retry comes after its backoff
        a_new_candle(worker)
        worker.step()
        with store[1]() as session:
            if session.get(Position, "BTC/USDT") is None:
                break
    with store[1]() as session:
        assert session.get(Position, "BTC/USDT") is None
        assert session.query(Trade).filter_by(exit_reason="stop_loss").count() == 1
