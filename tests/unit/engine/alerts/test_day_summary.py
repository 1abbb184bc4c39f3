"""The daily summary alert's figures are the pages' own: its P&L is their "today"."""

from datetime import UTC, datetime, timedelta

from pytest import approx

from config import Settings
from data import queries
from data.store.account_resets import AccountReset
from data.store.db import transaction
from engine.alerts.summary import read_day_summary
from tests.support.seeded_dashboard import STARTING_CAPITAL, ZONE, seed_market_midnight


def test_the_daily_summary_alert_sends_the_pages_today_after_a_reset(store):
    engine, factory = store
    seeded = seed_market_midnight(factory)
    with transaction(factory) as session:
        session.add(
            AccountReset(
                ts=seeded.day_start + timedelta(minutes=12),
                wall_ts=datetime.now(UTC),
                capital=STARTING_CAPITAL,
                previous_equity=10_001.75,
                quote_currency="USDT",
            )
        )
    settings = Settings.model_validate({"broker": {"starting_capital": STARTING_CAPITAL}})
    day = seeded.day_start.astimezone(ZONE).date()
    summary = read_day_summary(factory, settings, day, ZONE, ZONE.key)
    assert summary.day_pnl == approx(queries.pnl_today(engine, seeded.day_start, STARTING_CAPITAL))
    assert summary.day_pnl == approx(9_987.40 - STARTING_CAPITAL)
