"""The dashboard alone (no engine) in Debian's Chromium, on a store seeded by hand around a
midnight of the simulated market clock: what the pages say "today" is one figure, fees
included, counted from the market's midnight in the configured timezone.

The market day (2031-03-09 in Asia/Tokyo) is neither the wall clock's date nor UTC's, so
counting from the computer's midnight, or from UTC's, gives other numbers. A screenshot
lands in test-output/browser-seeded/.
"""

import re
import shutil

import pytest

from data.store.db import make_engine, make_session_factory
from tests.support.browser import browser_or_skip, chromium, left_loopback, settled
from tests.support.runs import ROOT
from tests.support.seeded_dashboard import ZONE, dashboard_on, seed_market_midnight

SHOTS = ROOT / "test-output" / "browser-seeded"
CONFIG = f"""
[dashboard]
timezone = "{ZONE.key}"
refresh_seconds = 2.0
"""

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    browser_or_skip()
    home = tmp_path_factory.mktemp("seeded-home")
    engine = make_engine(f"sqlite:///{home / 'volt.db'}")
    seeded = seed_market_midnight(make_session_factory(engine))
    engine.dispose()
    with dashboard_on(home, CONFIG) as base:
        yield base, seeded


@pytest.fixture(scope="module")
def tab(dashboard):
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    requested: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(30_000)
        page.on("request", lambda request: requested.append(request.url))
        yield page
    assert requested and not left_loopback(requested)


def overview(tab, base: str) -> None:
    tab.goto(base)
    settled(tab)
    tab.locator("[data-testid='stMetric']", has_text="P&L today").wait_for()


def test_overview_and_sidebar_show_the_same_today_across_the_market_midnight(dashboard, tab):
    base, seeded = dashboard
    overview(tab, base)
    metric = tab.locator("[data-testid='stMetric']", has_text="P&L today")
    shown = metric.locator("[data-testid='stMetricValue']").inner_text()
    sidebar = tab.locator("[data-testid='stSidebar']").inner_text()
    in_sidebar = re.search(r"P&L today \(USDT\): ([+\-][\d,.]+)", sidebar)
    tab.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    assert in_sidebar, sidebar
    assert shown == in_sidebar.group(1) == f"{seeded.pnl_today:+,.2f}" == "-37.60"


def test_the_state_line_shows_the_simulated_market_time_in_the_chosen_zone(dashboard, tab):
    base, seeded = dashboard
    overview(tab, base)
    stamp = f"{seeded.market_now.astimezone(ZONE):%Y-%m-%d %H:%M:%S} {ZONE.key}"
    assert stamp == "2031-03-09 00:20:00 Asia/Tokyo"
    assert f"market time, simulated {stamp}" in tab.locator("[data-testid='stMain']").inner_text()
