""" "Today" is one figure on every page: equity now less equity when the market day began,
so realised and unrealised P&L and fees all count, across a midnight of the market clock."""

from datetime import UTC, datetime, timedelta

from pytest import approx

from data import queries
from data.store.account_resets import AccountReset
from data.store.db import transaction
from tests.support.seeded_dashboard import (
    MARKET_DAY,
    SNAPSHOTS,
    STARTING_CAPITAL,
    ZONE,
    seed_market_midnight,
)


def test_today_counts_from_the_last_snapshot_before_the_market_midnight(store):
    engine, factory = store
    seeded = seed_market_midnight(factory)
    today = queries.pnl_today(engine, seeded.day_start, STARTING_CAPITAL)
    assert today == approx(seeded.pnl_today) == approx(-37.60)


def test_today_is_not_the_realised_pnl_since_midnight(store):
    engine, factory = store
    seeded = seed_market_midnight(factory)
    realised = queries.realised_pnl(engine, seeded.day_start.astimezone(UTC))
    assert realised == approx(seeded.realised_since_day_start) == approx(-12.50)
    assert queries.pnl_today(engine, seeded.day_start, STARTING_CAPITAL) != realised


def test_an_hour_later_midnight_opens_the_day_at_another_snapshot(store):
    engine, factory = store
    seeded = seed_market_midnight(factory)
    # Midnight 12 minutes later: the 00:10 snapshot is then the day's opening equity.
    later = seeded.day_start + timedelta(minutes=12)
    assert queries.pnl_today(engine, later, STARTING_CAPITAL) == approx(-14.35)


def test_on_day_one_the_first_entries_fees_count(store):
    engine, factory = store
    day_one = [(minutes, equity) for minutes, equity in SNAPSHOTS if minutes > 0]
    seeded = seed_market_midnight(factory, snapshots=day_one)
    today = queries.pnl_today(engine, seeded.day_start, STARTING_CAPITAL)
    assert today == approx(seeded.pnl_today) == approx(9_987.40 - STARTING_CAPITAL)


def test_no_snapshot_no_figure(store):
    engine, _ = store
    assert queries.pnl_today(engine, MARKET_DAY.replace(tzinfo=ZONE), STARTING_CAPITAL) is None


def test_a_paper_reset_today_opens_the_day_at_the_new_capital(store):
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
    today = queries.pnl_today(engine, seeded.day_start, STARTING_CAPITAL)
    assert today == approx(9_987.40 - STARTING_CAPITAL)
