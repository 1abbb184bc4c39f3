"""The levels the risk rules read from history: a stored high-water mark for the peak (the
same for the engine and the Risk panel), indexed look-ups, and enough trades for any
losing streak the configuration allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, text

from config.settings import Protections
from data import queries
from data.store.db import make_engine, make_session_factory, transaction
from data.store.models import EquitySnapshot, Order, ProtectionLock, Rejection, Trade
from data.store.state import read_state, update_state
from data.types import PortfolioView
from engine.trading.risk_records import RECENT_TRADES, risk_context
from engine.wiring import build_gate
from risk import OrderIntent, RiskRejection
from tests.support.scripted import scripted_settings, with_protections

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BOOK = PortfolioView(9_000.0, 9_000.0, {})


@pytest.fixture
def db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'volt.db'}")
    factory = make_session_factory(engine)
    update_state(factory, market_time=NOW)
    yield engine, factory
    engine.dispose()


def snapshot(factory, ts: datetime, equity: float) -> None:
    with transaction(factory) as session:
        session.add(EquitySnapshot(ts=ts, equity=equity, cash=equity, positions_value=0.0))


def engine_peak(factory) -> float:
    with transaction(factory) as session:  # as the engine reads it: in its own transaction
        return risk_context(session, BOOK, {}, NOW).peak_equity


def test_the_peak_is_a_high_water_mark_kept_since_the_last_drawdown_pause(db):
    engine, factory = db
    for hours, equity in [(10, 10_000.0), (8, 12_000.0), (6, 11_000.0)]:
        snapshot(factory, NOW - hours * HOUR, equity)
    assert engine_peak(factory) == 12_000.0
    state = read_state(factory)
    assert state.peak_equity == 12_000.0 and state.peak_equity_id == 3
    assert queries.equity_and_peak(engine) == {"equity": 11_000.0, "peak": 12_000.0}

    # Later readings fold in only the snapshots added since (the history is not rescanned).
    with transaction(factory) as session:
        session.execute(text("UPDATE equity SET equity = 99999 WHERE id = 1"))
    snapshot(factory, NOW - 4 * HOUR, 12_500.0)
    assert engine_peak(factory) == 12_500.0
    assert read_state(factory).peak_equity_id == 4

    # A drawdown pause that ended 5 hours ago: the peak is measured afresh from then, by the
    # engine and by the Risk panel alike (no more all-time peak on the dashboard).
    with transaction(factory) as session:
        session.add(
            ProtectionLock(
                protection="max_drawdown",
                reason="down",
                clears="later",
                ts=NOW - 30 * HOUR,
                until=NOW - 5 * HOUR,
            )
        )
    assert engine_peak(factory) == 12_500.0  # the 4-hours-ago snapshot is after the reset
    with transaction(factory) as session:
        session.execute(text("UPDATE protection_locks SET until = :t"), {"t": NOW - 3 * HOUR})
    snapshot(factory, NOW - 2 * HOUR, 9_500.0)
    assert engine_peak(factory) == 9_500.0  # only snapshots since the pause ended count
    assert queries.equity_and_peak(engine)["peak"] == 9_500.0


def test_expired_locks_do_not_show_as_blocking(db):
    engine, factory = db
    with transaction(factory) as session:
        for name, until in [
            ("losing_streak", NOW - HOUR),  # ran out; the engine has not lifted it yet
            ("daily_loss_limit", NOW + HOUR),
            ("max_exposure", None),  # a condition, not a time
        ]:
            session.add(
                ProtectionLock(protection=name, reason="r", clears="c", ts=NOW - HOUR, until=until)
            )
    shown = queries.protection_locks(engine)
    assert sorted(shown["protection"]) == ["daily_loss_limit", "max_exposure"]


def test_a_halted_engine_shows_as_the_blocking_reason(db):
    engine, factory = db
    assert queries.protection_locks(engine).empty
    update_state(factory, halted=True, halt_reason="kill switch (command #7)")
    shown = queries.protection_locks(engine)
    assert list(shown["protection"]) == ["kill_switch"]
    assert shown.iloc[0]["reason"] == "engine halted: kill switch (command #7)"
    assert "re-arms" in shown.iloc[0]["clears"]


def test_indexes_added_later_are_built_and_used(db, tmp_path):
    engine, factory = db
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_rejections_source_ts")
    engine.dispose()
    reopened = make_engine(f"sqlite:///{tmp_path / 'volt.db'}")  # an older database
    with reopened.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT ts FROM rejections WHERE source = 'broker' "
            "ORDER BY ts DESC LIMIT 100"
        ).all()
    assert "ix_rejections_source_ts" in " ".join(str(row) for row in plan)
    reopened.dispose()


def test_a_losing_streak_longer_than_fifty_trades_still_blocks(db):
    engine, factory = db
    with pytest.raises(ValidationError):
        Protections(losing_streak=RECENT_TRADES + 1)  # every allowed streak can be read
    with engine.begin() as conn:
        conn.execute(
            insert(Order),
            [
                {
                    "client_order_id": "o",
                    "ts": NOW - 100 * HOUR,
                    "pair": "BTC/USDT",
                    "side": "buy",
                    "amount": 1.0,
                    "price": 1.0,
                    "status": "filled",
                }
            ],
        )
        conn.execute(
            insert(Trade),
            [
                {
                    "pair": "BTC/USDT",
                    "amount": 1.0,
                    "entry_ts": NOW - HOUR,
                    "entry_price": 1.0,
                    "exit_ts": NOW - HOUR + i * timedelta(seconds=10),
                    "exit_price": 1.0,
                    "fees": 0.0,
                    "pnl": -1.0,
                    "pnl_pct": -0.01,
                    "exit_reason": "signal",
                    "entry_order_id": 1,
                    "exit_order_id": 1,
                }
                for i in range(60)
            ],
        )
    gate = build_gate(with_protections(scripted_settings(), losing_streak=60, daily_loss_limit=1))
    with factory() as session:
        context = risk_context(session, PortfolioView(10_000.0, 10_000.0, {}), {}, NOW)
    intent = OrderIntent("ETH/USDT", "buy", 100.0, "e", "signal", atr=1.0)
    with pytest.raises(RiskRejection, match="the last 60 trades all lost"):
        gate.approve(intent, PortfolioView(10_000.0, 10_000.0, {}), context)


def test_broker_rejections_are_read_newest_first(db):
    engine, factory = db
    with engine.begin() as conn:
        conn.execute(
            insert(Rejection),
            [
                {
                    "ts": NOW - i * timedelta(minutes=1),
                    "pair": "BTC/USDT",
                    "side": "buy",
                    "source": source,
                    "reason": "r",
                }
                for i in range(300)
                for source in ("risk", "broker")
            ],
        )
    with factory() as session:
        context = risk_context(session, BOOK, {}, NOW)
    assert len(context.recent_rejections) == 100
    assert max(context.recent_rejections) == NOW
