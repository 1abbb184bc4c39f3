"""The daily summary goes out once per market day, at its hour on the market clock."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.alerts.summary import SummarySchedule, day_start


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_it_is_due_once_when_the_market_clock_reaches_the_hour():
    schedule = SummarySchedule(20, UTC)
    assert schedule.due(at(1, 9)) is None  # the first time seen: before the hour
    assert schedule.due(at(1, 19, 59)) is None
    assert schedule.due(at(1, 20)) == date(2026, 3, 1)
    assert schedule.due(at(1, 20, 5)) is None
    assert schedule.due(at(1, 23)) is None
    assert schedule.due(at(2, 3)) is None
    assert schedule.due(at(2, 21)) == date(2026, 3, 2)


def test_a_day_already_past_its_hour_when_first_seen_is_not_sent():
    schedule = SummarySchedule(8, UTC)
    assert schedule.due(at(1, 10)) is None  # a restart after the hour: maybe sent already
    assert schedule.due(at(1, 23)) is None
    assert schedule.due(at(2, 8)) == date(2026, 3, 2)


def test_a_fast_clock_jumping_days_sends_the_latest_day_only():
    schedule = SummarySchedule(6, UTC)
    schedule.due(at(1, 1))
    now = at(1, 1)
    sent = []
    for _ in range(40):  # 80 market hours in 2-hour steps
        now += timedelta(hours=2)
        if (day := schedule.due(now)) is not None:
            sent.append(day)
    assert sent == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


def test_the_hour_is_in_the_given_timezone():
    berlin = ZoneInfo("Europe/Berlin")  # UTC+1 in March
    schedule = SummarySchedule(20, berlin)
    schedule.due(at(1, 12))
    assert schedule.due(at(1, 18, 59)) is None
    assert schedule.due(at(1, 19)) == date(2026, 3, 1)
    assert day_start(date(2026, 3, 1), berlin) == datetime(2026, 2, 28, 23, tzinfo=UTC)


def test_nothing_is_due_before_the_engine_has_a_market_time():
    schedule = SummarySchedule(0, UTC)
    assert schedule.due(None) is None
    assert schedule.due(at(1, 0)) is None  # first seen
    assert schedule.due(at(2, 0)) == date(2026, 3, 2)
