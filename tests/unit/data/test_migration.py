"""A database from an earlier version gains new columns instead of breaking."""

import sqlite3
from datetime import UTC, datetime

from data.store.db import make_engine
from data.store.state import read_state, update_state
from engine.trading.account import Account


def test_missing_nullable_columns_are_added_to_an_existing_table(volt_home):
    path = volt_home / "volt.db"
    make_engine().dispose()
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE engine_state DROP COLUMN sleep_inhibit")
    old.execute("ALTER TABLE engine_state DROP COLUMN entry_blocks")
    old.commit()
    old.close()

    from data.store.db import make_session_factory

    factory = make_session_factory(make_engine())
    update_state(factory, sleep_inhibit="sleep allowed", entry_blocks="")
    assert read_state(factory).sleep_inhibit == "sleep allowed"


def test_an_added_column_with_a_default_fills_existing_rows(volt_home):
    from data.store.db import make_session_factory

    path = volt_home / "volt.db"
    factory = make_session_factory(make_engine())
    update_state(factory, status="running")
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE engine_state DROP COLUMN restarts")
    old.commit()
    old.close()
    factory = make_session_factory(make_engine())
    assert read_state(factory).restarts == 0  # not None: `restarts + 1` must keep working


def test_a_store_from_before_order_generations_keeps_its_client_order_ids(volt_home):
    """Its decisions in flight must be sent again under the ids they were first sent with."""
    from data.store.db import make_session_factory

    path = volt_home / "volt.db"
    factory = make_session_factory(make_engine())
    update_state(factory, status="running")
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE engine_state DROP COLUMN order_generation")
    old.commit()
    old.close()
    factory = make_session_factory(make_engine())
    account = Account.of_store(factory, clock=None, feed=None, broker=None, gate=None)
    candle = datetime(2026, 3, 1, tzinfo=UTC)
    assert account.order_id("BTC/USDT", candle, "b") == "volt-BTCUSDT-1772323200-b"
