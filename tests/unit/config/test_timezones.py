"""`[dashboard] timezone` as a zone: "local" keeps the computer's daylight-saving rules."""

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import timezones
from config.timezones import display_zone, display_zone_name

SUMMER = datetime(2025, 7, 15, 12, tzinfo=UTC)
WINTER = datetime(2025, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def berlin(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_local_follows_daylight_saving_all_year(berlin):
    zone = display_zone("local")
    assert SUMMER.astimezone(zone).hour == 14  # CEST, +2
    assert WINTER.astimezone(zone).hour == 13  # CET, +1
    assert display_zone_name("local") == "Europe/Berlin"


def test_utc_and_an_iana_name_are_taken_as_they_are(berlin):
    assert display_zone("UTC") is UTC and display_zone_name("UTC") == "UTC"
    assert SUMMER.astimezone(display_zone("Asia/Tokyo")).hour == 21
    assert display_zone_name("Asia/Tokyo") == "Asia/Tokyo"


def test_local_without_a_zone_name_still_keeps_the_c_librarys_rules(monkeypatch, berlin):
    monkeypatch.setattr(timezones, "LOCALTIME", Path("/nonexistent/localtime"))
    monkeypatch.setattr(timezones, "TIMEZONE_FILE", Path("/nonexistent/timezone"))
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")  # POSIX rules, no IANA name
    time.tzset()
    zone = display_zone("local")
    assert display_zone_name("local") == "local"
    assert (SUMMER.astimezone(zone).hour, WINTER.astimezone(zone).hour) == (14, 13)
