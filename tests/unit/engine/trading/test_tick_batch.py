"""A tick writes every pair that sends no order in one transaction; a pair that sends one
is booked alone afterwards; when the shared transaction fails, every pair is booked alone,
so one pair's fault never costs another's decision."""

import logging
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from data.store.commands import submit_command
from data.store.models import Candle, Decision, JournalEntry, Order, Position, Rejection, Trade
from data.types import Action, Consensus, Vote, VoteSource
from engine.trading import book
from engine.trading.tick_records import DecisionPlan, insert_decisions
from engine.venues import retry
from engine.venues.errors import TemporaryError
from engine.venues.synthetic import BLOCK, SyntheticFeed
from risk.stops import walk_stops
from tests.support.scripted import START, STEP, scripted_trader

PAIRS = ("BTC/USDT", "ETH/USDT")
WARM = 20  # candles before the first scripted vote; the trader sees them on its first tick


def flat(n: int = 40) -> dict[str, list[float]]:
    return {pair: [100.0 * (1 + 0.0005 * (i % 3)) for i in range(n)] for pair in PAIRS}


def write_transactions(trader) -> list[int]:
    """Counts each write transaction (BEGIN IMMEDIATE on SQLite, any engine's `immediate`)."""
    began = []

    def on_begin(conn) -> None:
        if conn.get_execution_options().get("immediate"):
            began.append(1)

    event.listen(trader.factory.kw["bind"], "begin", on_begin)
    return began


def decisions(trader) -> list[Decision]:
    with trader.factory() as session:
        return list(session.scalars(select(Decision).order_by(Decision.id)))


def tick_to(trader, clock, candle: int) -> None:
    """Tick until the trader has decided candle `candle` (0-based) of the scripted market."""
    while clock.now() < START + (candle + 1) * STEP:
        clock.advance(STEP.total_seconds())
        trader.tick()


@pytest.fixture
def market(tmp_path):
    def build(script: dict[str, list[int]]):
        trader, clock = scripted_trader(tmp_path, flat(), script)
        clock.advance((WARM - 1) * STEP.total_seconds())
        trader.tick()
        return trader, clock

    return build


def test_a_tick_without_orders_is_one_write_transaction(market):
    trader, clock = market({pair: [0] * 40 for pair in PAIRS})
    began = write_transactions(trader)
    clock.advance(STEP.total_seconds())
    report = trader.tick()
    assert report.decisions == 2 and report.succeeded
    assert len(began) == 1
    last = decisions(trader)[-2:]
    assert [d.pair for d in last] == list(PAIRS)
    assert all(d.outcome == "hold" and len(d.votes) == 1 for d in last)


def test_a_ticks_decisions_stored_in_one_statement_keep_their_own_votes(market):
    """The returned ids are matched to pairs, not to row order (SQLite keeps no order in a
    batch): each decision keeps its own action and votes."""
    sell_btc = [0] * (WARM + 1) + [-1] * 5
    trader, clock = market({"BTC/USDT": sell_btc, "ETH/USDT": [0] * 40})
    tick_to(trader, clock, WARM + 2)
    btc, eth = decisions(trader)[-2:]
    assert (btc.pair, btc.action, [v.action for v in btc.votes]) == ("BTC/USDT", "SELL", ["SELL"])
    assert (eth.pair, eth.action, [v.action for v in eth.votes]) == ("ETH/USDT", "HOLD", ["HOLD"])
    with trader.factory() as session, pytest.raises(ValueError, match="one decision per pair"):
        insert_decisions(session, [(plan, "") for plan in [_plan_of(btc)] * 2], clock.now())


def _plan_of(decision: Decision) -> DecisionPlan:
    votes = (Vote("scripted", Action.SELL, 1.0, "scripted", VoteSource.RULE, {}),)
    consensus = Consensus(Action.SELL, -1.0, 0.55, {"scripted": 1.0}, votes)
    return DecisionPlan(decision.pair, decision.candle_ts, decision.price, 1.0, "normal", consensus)


def test_an_entry_is_booked_alone_after_the_pairs_that_send_nothing(market):
    buy_btc = [0] * (WARM + 2) + [1] + [0] * 20
    trader, clock = market({"BTC/USDT": buy_btc, "ETH/USDT": [0] * 40})
    tick_to(trader, clock, WARM + 1)
    began = write_transactions(trader)
    clock.advance(STEP.total_seconds())
    report = trader.tick()
    assert report.entries == 1 and report.decisions == 2
    assert len(began) > 1  # the shared one, then the entry's own
    eth, btc = decisions(trader)[-2:]
    assert (eth.pair, eth.outcome) == ("ETH/USDT", "hold")
    assert btc.pair == "BTC/USDT" and btc.executed and btc.outcome.startswith("bought")


def test_an_entry_the_gate_refuses_is_booked_with_the_others_with_its_reason(market):
    buy_both = [0] * (WARM + 2) + [1] + [0] * 20
    trader, clock = market({pair: buy_both for pair in PAIRS})
    tick_to(trader, clock, WARM + 1)
    submit_command(trader.factory, "kill")  # a kill in force refuses every entry
    began = write_transactions(trader)
    clock.advance(STEP.total_seconds())
    report = trader.tick()
    assert report.entries == 0 and report.decisions == 2
    assert len(began) == 1
    refused = decisions(trader)[-2:]
    assert all(
        d.outcome.startswith("rejected by risk:") and "kill" in d.outcome.lower() for d in refused
    )
    with trader.factory() as session:
        rows = session.scalars(select(Rejection).where(Rejection.source == "risk")).all()
    assert sorted(r.decision_id for r in rows) == sorted(d.id for d in refused)
    assert all(r.reason and r.side == "buy" for r in rows)


def test_when_the_shared_transaction_fails_each_pair_is_booked_alone(market, monkeypatch, caplog):
    trader, clock = market({pair: [0] * 40 for pair in PAIRS})
    from engine.trading import batch

    real_insert = batch.insert_decisions

    def eth_breaks(session, decided, now):
        if any(plan.pair == "ETH/USDT" for plan, _ in decided):
            raise RuntimeError("a bug in ETH's decision (test)")
        return real_insert(session, decided, now)

    monkeypatch.setattr(batch, "insert_decisions", eth_breaks)
    before = len(decisions(trader))
    clock.advance(STEP.total_seconds())
    with caplog.at_level(logging.ERROR):
        report = trader.tick()
    assert report.unexpected == ["ETH/USDT"]
    assert "booking each pair alone" in caplog.text
    new = decisions(trader)[before:]
    assert [d.pair for d in new] == ["BTC/USDT"]
    with trader.factory() as session:  # ETH's candles are kept all the same
        assert session.scalar(select(Candle.ts).where(Candle.pair == "ETH/USDT").limit(1))

    monkeypatch.setattr(batch, "insert_decisions", real_insert)
    clock.advance(STEP.total_seconds())
    assert trader.tick().succeeded
    assert {d.pair for d in decisions(trader)[before + 1 :]} == set(PAIRS)


def test_the_stop_walk_trails_then_exits_at_the_first_candle_through_it():
    candles = [
        ("a", 100.0, 104.0, 99.0),  # no hit: the trail follows the high up to 104 - 2
        ("b", 103.0, 103.5, 101.5),  # through the trailed stop at 102
        ("c", 90.0, 91.0, 80.0),  # never reached
    ]
    walk = walk_stops(95.0, 110.0, 100.0, None, 2.0, candles)
    assert walk.hit == ("b", 102.0, "trailing_stop")
    assert (walk.stop_loss, walk.peak_price) == (102.0, 104.0)
    gap = walk_stops(95.0, 110.0, 100.0, None, None, [("a", 90.0, 92.0, 89.0)])
    assert gap.hit == ("a", 90.0, "stop_loss")  # a gap fills at the open, below the stop
    quiet = walk_stops(95.0, 110.0, 100.0, None, None, [("a", 100.0, 101.0, 99.0)])
    assert quiet.hit is None and (quiet.stop_loss, quiet.peak_price) == (95.0, None)


def test_a_retried_call_says_which_attempt_failed_and_gives_up_after_the_last(monkeypatch, caplog):
    monkeypatch.setattr(retry, "FIRST_WAIT_SECONDS", 0.001)
    failures = iter([TemporaryError("down"), TemporaryError("still down")])

    def flaky():
        error = next(failures, None)
        if error is not None:
            raise error
        return "up"

    with caplog.at_level(logging.WARNING):
        assert retry.with_retries(flaky, "the feed", attempts=4) == "up"
    assert "attempt 1 of 4" in caplog.text and "attempt 2 of 4" in caplog.text
    calls = []

    def always_down():
        calls.append(1)
        raise TemporaryError("down")

    with pytest.raises(TemporaryError):
        retry.with_retries(always_down, "the feed", attempts=3)
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(TemporaryError):
        retry.with_retries(always_down, "the feed", attempts=1)
    assert len(calls) == 1


def test_the_synthetic_feed_gives_the_same_candles_however_it_is_asked():
    moving, fresh = SyntheticFeed(7, "5m"), None
    epoch = moving.epoch
    for closed in (300, 301, 2 * BLOCK + 250, 2 * BLOCK + 251, 120):
        until = epoch + timedelta(minutes=5 * closed)
        fresh = SyntheticFeed(7, "5m")
        for pair in PAIRS:
            asked = moving.candles(pair, until, 300)
            expected = fresh.candles(pair, until, 300)
            pd.testing.assert_frame_equal(asked, expected)
            assert asked.index[-1] == until - timedelta(minutes=5)


def trailing_btc(tmp_path, closes):
    """BTC bought at candle WARM+2, then given a deterministic trailing stop."""
    script = [0] * (WARM + 2) + [1] + [0] * 40
    trader, clock = scripted_trader(tmp_path, {"BTC/USDT": closes}, {"BTC/USDT": script})
    clock.advance((WARM - 1) * STEP.total_seconds())
    trader.tick()
    tick_to(trader, clock, WARM + 3)
    with trader.factory.begin() as session:
        held = session.get(Position, "BTC/USDT")
        held.stop_loss, held.take_profit, held.trail_distance = 95.0, 500.0, 2.0
        held.peak_price = 100.0
    return trader, clock


def test_a_stop_exit_that_failed_is_sent_again_under_the_same_id(tmp_path, monkeypatch):
    # 103 trails the stop up to about 101; the next candle (100) meets it. Were the trail stored
    # before the failed exit, the walk again would meet the raised stop on the 103 candle
    # itself, under another client order id: a second sell.
    closes = [100.0] * (WARM + 4) + [103.0, 100.0] + [100.0] * 10
    trader, clock = trailing_btc(tmp_path, closes)
    sent, real_submit = [], trader.broker.submit

    def spy(order, now):
        sent.append(order.client_order_id)
        return real_submit(order, now)

    monkeypatch.setattr(trader.broker, "submit", spy)
    real_exit, calls = book.record_exit, []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the fill's record fails (test)")
        return real_exit(*args, **kwargs)

    monkeypatch.setattr(book, "record_exit", fails_once)
    clock.advance(2 * STEP.total_seconds())
    assert trader.tick().unexpected == ["BTC/USDT"]
    with trader.factory() as session:  # nothing of the failed exit was kept
        assert session.get(Position, "BTC/USDT").stop_loss == 95.0
    clock.advance(STEP.total_seconds())
    assert trader.tick().succeeded
    assert len(sent) == 2 and len(set(sent)) == 1  # the same order, found, booked once
    with trader.factory() as session:
        assert session.get(Position, "BTC/USDT") is None
        (trade,) = session.scalars(select(Trade)).all()
    # At the trailed stop (103's high, wick included, less 2), not the original 95.
    assert trade.exit_reason == "trailing_stop" and 100.0 < trade.exit_price <= 103.21 - 2.0


def test_the_journal_is_followed_after_a_shared_transaction_rolled_back(tmp_path, monkeypatch):
    from engine.trading import approve

    script = [0] * (WARM + 2) + [1] + [0] * 40
    trader, clock = scripted_trader(tmp_path, {"BTC/USDT": [100.0] * 60}, {"BTC/USDT": script})
    clock.advance((WARM - 1) * STEP.total_seconds())
    trader.tick()
    tick_to(trader, clock, WARM + 3)
    assert trader.close_position("BTC/USDT", "manual", "m1").startswith("closed")
    real_sync, calls = approve.sync_locks, []

    def locked_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("sync_locks", {}, Exception("database is locked (test)"))
        return real_sync(*args, **kwargs)

    monkeypatch.setattr(approve, "sync_locks", locked_once)
    for _ in range(3):
        clock.advance(STEP.total_seconds())
        assert trader.tick().succeeded
    with trader.factory() as session:
        outcomes = session.scalars(select(JournalEntry.outcome)).all()
    assert outcomes and "PENDING" not in outcomes


def test_a_balance_failure_on_a_tick_without_a_new_candle_is_logged_not_raised(
    tmp_path, monkeypatch, caplog
):
    trader, clock = scripted_trader(tmp_path, {"BTC/USDT": [100.0] * 60}, {"BTC/USDT": [0] * 60})
    clock.advance((WARM - 1) * STEP.total_seconds())
    trader.tick()

    def down():
        raise TemporaryError("fetch_balance: exchange unreachable (test)")

    monkeypatch.setattr(trader.broker, "cash", down)
    clock.advance(60)  # no candle has closed since
    with caplog.at_level(logging.ERROR):
        assert trader.tick().succeeded
    assert "could not store the state of the risk protections" in caplog.text


def test_a_decision_left_with_its_order_in_flight_is_taken_back_and_decided_again(
    tmp_path, monkeypatch
):
    from engine.trading import execution

    script = [0] * (WARM + 2) + [1] * 3 + [0] * 30
    trader, clock = scripted_trader(tmp_path, {"BTC/USDT": [100.0] * 60}, {"BTC/USDT": script})
    clock.advance((WARM - 1) * STEP.total_seconds())
    trader.tick()
    tick_to(trader, clock, WARM + 1)
    real_submit = trader.broker.submit

    def not_placed(order, now):
        raise TemporaryError("rate limited (test)")

    def cannot_delete(*args, **kwargs):
        raise RuntimeError("the database hiccups (test)")

    monkeypatch.setattr(trader.broker, "submit", not_placed)
    monkeypatch.setattr(trader.broker, "fetch_order", lambda cid: None, raising=False)
    monkeypatch.setattr(execution, "delete", cannot_delete)
    clock.advance(STEP.total_seconds())
    assert trader.tick().skipped  # the buy was never placed, and could not be taken back
    with trader.factory() as session:
        left = session.scalars(select(Decision).order_by(Decision.id.desc())).first()
    assert left.outcome == execution.ORDER_SENT
    monkeypatch.undo()
    monkeypatch.setattr(trader.broker, "submit", real_submit)
    clock.advance(5)  # the same candle, still the latest
    assert trader.tick().entries == 1
    with trader.factory() as session:
        decided = session.scalars(select(Decision).where(Decision.candle_ts == left.candle_ts))
        (again,) = decided.all()
        assert again.executed and again.outcome.startswith("bought")
        assert session.scalars(select(Order)).all()
