"""The decision journal follows executed decisions to their outcomes; agents' records and
weights come from those outcomes; the export writes one stable note per trade."""

import logging
from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest
import yaml
from sqlalchemy import select

from agents.auditor import AuditLimits, audit_fill
from agents.learning import adapt_weights
from data import queries
from data.stats.scorecard import AgentRecord, agent_records
from data.store.db import transaction
from data.store.events import EventsHandler
from data.store.models import (
    AgentWeight,
    Candle,
    Decision,
    Event,
    Fill,
    JournalEntry,
    Order,
    Position,
    Trade,
    VoteRow,
)
from engine.tools.journal_export import export_journal
from engine.trading import journal
from tests.support.configs import LEARN_FAST
from tests.support.runs import START, run_ticks, wait_for

FIVE_MIN = timedelta(minutes=5)
DAY = timedelta(hours=24)


def executed(session, pair, action, price, amount=1.0, votes=(("technical", "BUY", 0.8),)):
    """An executed decision with its votes, order and fill, as the trader records them."""
    decision = Decision(
        ts=START,
        pair=pair,
        candle_ts=START,
        price=price,
        action=action,
        score=0.7,
        threshold=0.55,
        regime="normal",
        executed=True,
    )
    session.add(decision)
    session.flush()
    for agent, vote, confidence in votes:
        session.add(
            VoteRow(
                decision_id=decision.id,
                agent=agent,
                action=vote,
                confidence=confidence,
                weight=1.0,
                source="rule",
                rationale=f"{agent} says {vote}",
                data={},
            )
        )
    order = Order(
        client_order_id=f"volt-{decision.id}",
        decision_id=decision.id,
        ts=START,
        pair=pair,
        side="buy" if action == "BUY" else "sell",
        amount=amount,
        price=price,
        status="filled",
    )
    session.add(order)
    session.flush()
    session.add(
        Fill(
            order_id=order.id,
            ts=START,
            pair=pair,
            side=order.side,
            amount=amount,
            price=price,
            fee=0.1,
        )
    )
    session.flush()
    return journal.open_entry(session, decision), order


def close_trade(session, order, exit_price, reason, pnl):
    session.add(
        Trade(
            pair="BTC/USDT",
            amount=1.0,
            entry_ts=START,
            entry_price=100.0,
            exit_ts=START + timedelta(hours=2),
            exit_price=exit_price,
            fees=0.2,
            pnl=pnl,
            pnl_pct=pnl / 100.0,
            exit_reason=reason,
            entry_order_id=order.id,
            exit_order_id=order.id,
        )
    )
    session.flush()


def follow(session, now, marks=None):
    return journal.follow(session, now, marks or {}, FIVE_MIN, DAY, 12)[0]


@pytest.mark.parametrize(
    ("exit_price", "reason", "pnl", "outcome"),
    [
        (110.0, "take_profit", 9.8, "WIN"),
        (97.0, "signal", -3.2, "LOSS"),
        (95.0, "stop_loss", -5.2, "STOPPED"),
    ],
)
def test_a_buy_resolves_when_its_position_closes(store, exit_price, reason, pnl, outcome):
    with transaction(store[1]) as session:
        entry, order = executed(session, "BTC/USDT", "BUY", 100.0)
        assert entry.outcome == "PENDING"
        assert follow(session, START + timedelta(hours=1)) == []
        close_trade(session, order, exit_price, reason, pnl)
        assert follow(session, START + timedelta(hours=3)) == [entry]
        assert (entry.outcome, entry.pnl, entry.exit_price) == (outcome, pnl, exit_price)
        assert entry.duration_s == 2 * 3600


def test_a_buy_still_open_past_the_horizon_expires_marked_to_market(store):
    with transaction(store[1]) as session:
        entry, _ = executed(session, "BTC/USDT", "BUY", 100.0)
        assert follow(session, START + DAY - FIVE_MIN, {"BTC/USDT": 90.0}) == []
        follow(session, START + DAY, {"BTC/USDT": 104.0})
        assert entry.outcome == "EXPIRED"
        assert entry.pnl == pytest.approx(4.0)  # no open Position row here: no entry fee
        assert entry.exit_reason == "expired: marked"


def test_a_sell_is_judged_by_the_price_some_candles_later(store):
    with transaction(store[1]) as session:
        entry, _ = executed(session, "BTC/USDT", "SELL", 100.0, amount=2.0)
        assert follow(session, START + DAY) == []  # no candle that late yet
        later = START + 12 * FIVE_MIN
        session.add(
            Candle(
                pair="BTC/USDT",
                timeframe="5m",
                ts=later,
                open=96,
                high=97,
                low=94,
                close=95.0,
                volume=1,
            )
        )
        session.flush()
        follow(session, START + DAY)
        assert entry.outcome == "WIN"  # the sale spared a fall of 5 on 2 units
        assert entry.pnl == pytest.approx(10.0)


def votes_frame(rows):
    columns = [
        "decision_id",
        "resolved_at",
        "outcome",
        "decision_action",
        "pnl",
        "agent",
        "action",
        "confidence",
        "weight",
        "source",
    ]
    return pd.DataFrame(rows, columns=columns)


def test_accuracy_counts_only_calls_and_pnl_contribution_adds_up():
    t = pd.Timestamp(START)
    frame = votes_frame(
        [
            # a winning buy: technical and sentiment pushed it, regime held, llm abstained
            (1, t, "WIN", "BUY", 30.0, "technical", "BUY", 0.8, 1.0, "rule"),
            (1, t, "WIN", "BUY", 30.0, "sentiment", "BUY", 0.4, 0.5, "rule"),
            (1, t, "WIN", "BUY", 30.0, "regime", "HOLD", 0.2, 0.5, "rule"),
            (1, t, "WIN", "BUY", 30.0, "llm", "HOLD", 0.0, 0.0, "abstain"),
            # a stopped buy: technical was wrong, sentiment was right to say sell
            (2, t, "STOPPED", "BUY", -20.0, "technical", "BUY", 1.0, 1.0, "rule"),
            (2, t, "STOPPED", "BUY", -20.0, "sentiment", "SELL", 0.5, 0.5, "rule"),
        ]
    )
    records = agent_records(frame, window=50)
    assert (records["technical"].samples, records["technical"].correct) == (2, 1)
    assert (records["sentiment"].samples, records["sentiment"].correct) == (2, 2)
    assert records["regime"].samples == 0 and records["regime"].accuracy is None
    assert records["llm"].samples == 0
    # decision 1: shares 0.8 / (0.8 + 0.2) and 0.2 / 1.0 of +30
    assert records["technical"].pnl_contribution == pytest.approx(24.0 + -20.0 * 1.0 / 0.75)
    total = sum(r.pnl_contribution for r in records.values())
    assert total == pytest.approx(10.0)


def test_accuracy_reads_only_the_most_recent_window():
    t = pd.Timestamp(START)
    rows = [
        (i, t + pd.Timedelta(minutes=i), "LOSS", "BUY", -1.0, "technical", "BUY", 0.9, 1.0, "rule")
        for i in range(10)
    ]
    rows += [
        (
            10 + i,
            t + pd.Timedelta(hours=5, minutes=i),
            "WIN",
            "BUY",
            1.0,
            "technical",
            "BUY",
            0.9,
            1.0,
            "rule",
        )
        for i in range(5)
    ]
    assert agent_records(votes_frame(rows), window=5)["technical"].accuracy == 1.0


def test_weights_follow_accuracy_within_floor_and_cap():
    records = {
        "technical": AgentRecord("technical", 20, 20, 0.0),  # perfect
        "regime": AgentRecord("regime", 20, 0, 0.0),  # always wrong
        "sentiment": AgentRecord("sentiment", 3, 3, 0.0),  # too few calls to judge
    }
    base = {"technical": 1.8, "regime": 0.5, "sentiment": 0.5}
    changes = adapt_weights(base, dict(base), records, min_samples=10, floor=0.3, cap=2.0)
    by_agent = {c.agent: c for c in changes}
    assert by_agent["technical"].weight == 2.0  # 1.8 x 1.5 = 2.7, capped
    assert by_agent["regime"].weight == 0.3  # 0.5 x 0.5 = 0.25, floored
    assert "sentiment" not in by_agent
    assert "(bounded)" in by_agent["technical"].reason
    assert "accuracy 100% over its last 20" in by_agent["technical"].reason


def test_a_coin_flip_agent_keeps_its_weight():
    records = {"technical": AgentRecord("technical", 20, 10, 0.0)}
    assert (
        adapt_weights(
            {"technical": 1.0}, {"technical": 1.0}, records, min_samples=10, floor=0.1, cap=2.0
        )
        == []
    )


@pytest.fixture
def learning_config(tmp_path):
    path = tmp_path / "learn.toml"
    path.write_text(LEARN_FAST)
    return path


def test_the_engine_journals_trades_and_adapts_weights_with_reasons(
    trader_factory, store, learning_config
):
    trader, clock = trader_factory(learning_config)
    run_ticks(trader, clock, market_hours=12)
    engine = store[0]
    entries = queries.journal(engine)
    trades = queries.trades(engine)
    assert len(trades) > 0
    buys = entries[entries["action"] == "BUY"]
    # every closed trade's entry decision is resolved, with the trade's own P&L
    closed = buys[buys["trade_id"].notna()]
    assert sorted(closed["pnl"].round(6)) == sorted(trades["pnl"].round(6))
    assert set(entries["outcome"]) <= set(journal.OUTCOMES)
    history = queries.weight_history(engine)
    assert not history.empty
    assert history["weight"].between(0.1, 2.0).all()
    assert history["reason"].str.contains("accuracy").all()
    latest = history.groupby("agent")["weight"].last().to_dict()
    assert trader.weights == {**trader.base_weights, **latest}
    # a restart resumes with the learned weights
    again, _ = trader_factory(learning_config)
    assert again.weights == trader.weights


def test_frozen_learning_never_changes_a_weight(trader_factory, store, tmp_path):
    path = tmp_path / "frozen.toml"
    path.write_text(LEARN_FAST.replace("min_samples = 2", "min_samples = 2\nfreeze = true"))
    trader, clock = trader_factory(path)
    run_ticks(trader, clock, market_hours=12)
    assert not queries.journal(store[0]).empty
    assert queries.weight_history(store[0]).empty
    assert trader.weights == trader.base_weights


def test_a_changed_configured_weight_wins_over_the_learned_one(store, trader_factory, tmp_path):
    with transaction(store[1]) as session:
        session.add(
            AgentWeight(
                ts=START,
                agent="technical",
                weight=1.4,
                previous=1.0,
                base=1.0,
                accuracy=0.9,
                samples=12,
                reason="test",
            )
        )
    same = tmp_path / "same.toml"
    same.write_text("[agents.weights]\ntechnical = 1.0\nregime = 0.5\n")
    assert trader_factory(same)[0].weights["technical"] == 1.4
    edited = tmp_path / "edited.toml"
    edited.write_text("[agents.weights]\ntechnical = 0.8\nregime = 0.5\n")
    assert trader_factory(edited)[0].weights["technical"] == 0.8


def test_the_auditor_flags_slippage_and_partial_fills():
    limits = AuditLimits(max_slippage=0.002, size_tolerance=0.001)
    assert audit_fill("buy", 100.0, 1.0, 100.1, 1.0, limits) == []
    assert audit_fill("sell", 100.0, 1.0, 100.5, 1.0, limits) == []  # in the book's favour
    (slip,) = audit_fill("buy", 100.0, 1.0, 100.5, 1.0, limits)
    assert "slippage 0.500%" in slip
    (sold,) = audit_fill("sell", 100.0, 1.0, 99.0, 1.0, limits)
    assert "slippage 1.000%" in sold
    (partial,) = audit_fill("buy", 100.0, 2.0, 100.0, 1.0, limits)
    assert partial.startswith("partial fill: 1 filled of 2 approved")


def test_an_audited_fill_is_recorded_as_an_event_and_on_the_decision(
    trader_factory, store, busy_config, request
):
    trader, clock = trader_factory(busy_config)
    broker = trader.broker
    real_submit = broker.submit

    def slipping_submit(order, now):
        fill = real_submit(order, now)
        return replace(fill, price=fill.price * 1.01)  # as if the exchange slipped 1%

    broker.submit = slipping_submit
    handler = EventsHandler(store[1], "worker")
    logging.getLogger("volt").addHandler(handler)
    request.addfinalizer(
        lambda: (logging.getLogger("volt").removeHandler(handler), handler.close())
    )
    wait_for(lambda: run_ticks(trader, clock, 1) or _audited(store), 30, "an audited fill")
    decision = _audited(store)
    assert "slippage" in decision.audit and "against the book" in decision.audit
    wait_for(lambda: _audit_events(store), 5, "the auditor's event")
    events = _audit_events(store)
    assert any(decision.pair in e.message for e in events)


def _audited(store):
    with store[1]() as session:
        return session.scalar(select(Decision).where(Decision.audit != "").limit(1))


def _audit_events(store):
    with store[1]() as session:
        return session.scalars(select(Event).where(Event.kind == "audit")).all()


def test_the_journal_export_writes_one_note_per_trade_and_is_idempotent(
    trader_factory, store, tmp_path, learning_config
):
    trader, clock = trader_factory(learning_config)
    run_ticks(trader, clock, market_hours=12)
    with transaction(store[1]) as session:
        entries = session.scalars(select(JournalEntry).where(JournalEntry.action == "BUY")).all()
        assert entries
    out = tmp_path / "vault"
    written, unchanged = export_journal(store[0], out, "USDT")
    assert (written, unchanged) == (len(entries), 0)
    notes = sorted(out.glob("*.md"))
    assert len(notes) == len(entries)
    before = {p: (p.read_text(), p.stat().st_mtime_ns) for p in notes}
    assert export_journal(store[0], out, "USDT") == (0, len(entries))
    assert {p: (p.read_text(), p.stat().st_mtime_ns) for p in notes} == before

    text = notes[0].read_text()
    front, body = text.split("---\n")[1], text.split("---\n", 2)[2]
    meta = yaml.safe_load(front)
    assert {"pair", "action", "entry", "exit", "confidence", "outcome", "pnl", "votes"} <= set(meta)
    assert meta["action"] == "BUY" and meta["outcome"] in journal.OUTCOMES
    assert {v["agent"] for v in meta["votes"]} == {"technical", "sentiment"}
    assert "## The team's votes" in body


def test_an_expired_buy_takes_its_trades_real_outcome_when_it_closes(store):
    with transaction(store[1]) as session:
        entry, order = executed(session, "BTC/USDT", "BUY", 100.0)
        follow(session, START + DAY, {"BTC/USDT": 104.0})
        assert (entry.outcome, entry.pnl) == ("EXPIRED", pytest.approx(4.0))
        close_trade(session, order, 95.0, "stop_loss", -5.2)
        follow(session, START + DAY + FIVE_MIN)
        assert (entry.outcome, entry.pnl, entry.exit_reason) == ("STOPPED", -5.2, "stop_loss")


def test_the_journal_says_whether_an_entry_is_still_followed(store):
    """The live loop stops following once nothing is open-ended: an EXPIRED buy still is,
    until its trade closes."""
    args = (FIVE_MIN, DAY, 12)
    with transaction(store[1]) as session:
        entry, order = executed(session, "BTC/USDT", "BUY", 100.0)
        assert journal.follow(session, START + FIVE_MIN, {}, *args) == ([], True)
        assert journal.follow(session, START + DAY, {"BTC/USDT": 104.0}, *args) == ([entry], True)
        assert entry.outcome == "EXPIRED"
        close_trade(session, order, 95.0, "stop_loss", -5.2)
        assert journal.follow(session, START + DAY + FIVE_MIN, {}, *args) == ([entry], False)
        assert journal.follow(session, START + DAY + 2 * FIVE_MIN, {}, *args) == ([], False)


@pytest.mark.parametrize(("pnl", "outcome"), [(-3.0, "STOPPED"), (4.0, "WIN")])
def test_a_trailing_stop_is_stopped_at_a_loss_and_a_win_in_profit(store, pnl, outcome):
    with transaction(store[1]) as session:
        entry, order = executed(session, "BTC/USDT", "BUY", 100.0)
        close_trade(session, order, 100.0 + pnl, "trailing_stop", pnl)
        follow(session, START + timedelta(hours=3))
        assert entry.outcome == outcome


def test_every_reason_the_journal_writes_fits_its_column(store):
    width = JournalEntry.__table__.c.exit_reason.type.length
    with transaction(store[1]) as session:
        expired, _ = executed(session, "BTC/USDT", "BUY", 100.0)
        follow(session, START + DAY, {"BTC/USDT": 104.0})
        sold, _ = executed(session, "ETH/USDT", "SELL", 100.0)
        session.add(
            Candle(
                pair="ETH/USDT",
                timeframe="5m",
                ts=START + 9999 * FIVE_MIN,
                open=1,
                high=1,
                low=1,
                close=1.0,
                volume=1,
            )
        )
        session.flush()
        journal.follow(session, START + DAY, {}, FIVE_MIN, DAY, 9999)
        assert sold.outcome == "WIN"
        assert len(expired.exit_reason) <= width and len(sold.exit_reason) <= width


def test_pnl_contribution_counts_realised_money_only():
    t = pd.Timestamp(START)
    frame = votes_frame(
        [
            (1, t, "WIN", "BUY", 10.0, "technical", "BUY", 1.0, 1.0, "rule"),
            (2, t, "WIN", "SELL", 5.0, "technical", "SELL", 1.0, 1.0, "rule"),  # a fall spared
        ]
    )
    record = agent_records(frame, window=50)["technical"]
    assert record.pnl_contribution == pytest.approx(10.0)
    assert (record.samples, record.correct) == (2, 2)  # the sale still counts as a right call


def test_weights_are_judged_against_the_break_even_win_rate():
    records = {"technical": AgentRecord("technical", 20, 9, 0.0)}  # right 45% of the time
    (change,) = adapt_weights(
        {"technical": 1.0},
        {"technical": 1.0},
        records,
        min_samples=10,
        floor=0.1,
        cap=2.0,
        breakeven=0.4,
    )
    assert change.weight == pytest.approx(1.05)  # profitable with 2 ATR stops, 3 ATR targets
    assert "break-even 40%" in change.reason


def test_a_buy_partly_sold_stays_pending_until_its_position_closes_on_the_whole_trip(store):
    """A partial sale at a profit is no WIN: the rest may still lose more than it made."""
    with transaction(store[1]) as session:
        entry, order = executed(session, "BTC/USDT", "BUY", 100.0, amount=2.0)
        position = Position(
            pair="BTC/USDT",
            amount=1.0,  # half sold below, half still held
            entry_price=100.0,
            entry_fee=0.05,
            entry_ts=START,
            stop_loss=95.0,
            take_profit=110.0,
            entry_order_id=order.id,
        )
        session.add(position)
        close_trade(session, order, 106.0, "signal", 5.9)
        assert follow(session, START + timedelta(hours=3)) == []
        assert entry.outcome == "PENDING"

        session.delete(position)
        close_trade(session, order, 92.0, "stop_loss", -8.1)
        assert follow(session, START + timedelta(hours=4)) == [entry]
        assert entry.outcome == "STOPPED"  # the whole trip lost, its last sale a stop
        assert entry.pnl == pytest.approx(5.9 - 8.1)
        assert entry.exit_price == pytest.approx(99.0)  # the sales' average price
        assert entry.exit_reason == "stop_loss"
