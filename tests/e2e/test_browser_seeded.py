"""The dashboard alone (no engine) in Debian's Chromium, on a store seeded by hand around a
midnight of the simulated market clock: what the pages say "today" is one figure, fees
included, counted from the market's midnight in the configured timezone; the Overview holds
at 800 px; one click on a decision shows its votes in full and what the LLM was sent.

The market day (2031-03-09 in Asia/Tokyo) is neither the wall clock's date nor UTC's, so
counting from the computer's midnight, or from UTC's, gives other numbers. A screenshot
lands in test-output/browser-seeded/.
"""

import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data.store.db import make_engine, make_session_factory
from data.store.events import record_event
from tests.support.browser import browser_or_skip, chromium, left_loopback, settled
from tests.support.decisions import LONG_RATIONALE, SYSTEM, USER, VOTES, store_decision
from tests.support.runs import ROOT
from tests.support.seeded_dashboard import ZONE, dashboard_on, seed_market_midnight

SHOTS = ROOT / "test-output" / "browser-seeded"
CONFIG = f"""
[dashboard]
timezone = "{ZONE.key}"
refresh_seconds = 2.0
"""

pytestmark = pytest.mark.timeout(300)
VOTES_WITHOUT_LLM = [vote for vote in VOTES if vote["agent"] != "llm"]


class Pixel(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        Pixel.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def pixel():
    """A loopback server a remote party's markdown image would make the browser ask."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pixel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/pixel.png"
    server.shutdown()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, pixel):
    browser_or_skip()
    home = tmp_path_factory.mktemp("seeded-home")
    engine = make_engine(f"sqlite:///{home / 'volt.db'}")
    factory = make_session_factory(engine)
    seeded = seed_market_midnight(factory)
    store_decision(factory)  # with an LLM vote and a long rationale
    plain = [{**vote, "rationale": "newer decision"} for vote in VOTES_WITHOUT_LLM]
    store_decision(factory, plain, minute=5)  # the newest: shown until another is clicked
    # An exchange's error text, stored as an event with its traceback (an expander's label).
    record_event(factory, "ERROR", "worker", "exchange_error", f"remote ![x]({pixel}) [y]({pixel})",
                 traceback="Traceback: remote")  # fmt: skip
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


def test_the_overview_holds_at_800_px(dashboard, tab):
    base, seeded = dashboard
    tab.set_viewport_size({"width": 800, "height": 900})
    try:
        overview(tab, base)
        values = tab.locator("[data-testid='stMain'] [data-testid='stMetricValue']")
        assert values.count() >= 9  # five headline figures and four of the Risk panel
        cut = values.evaluate_all(
            "els => els.filter(e => [e, ...e.querySelectorAll('*')]"
            ".some(x => x.scrollWidth > x.clientWidth + 1)).map(e => e.innerText)"
        )
        tab.screenshot(path=str(SHOTS / "overview-800.png"), full_page=True)
        assert cut == []  # no figure reads "9,9…"
        wide = tab.evaluate("document.documentElement.scrollWidth")
        assert wide <= 800  # nothing pushes the page sideways
        shown = [text.strip() for text in values.all_inner_texts()]
        assert f"{seeded.pnl_today:+,.2f}" in shown
    finally:
        tab.set_viewport_size({"width": 1366, "height": 900})


def test_one_click_on_a_decision_shows_every_vote_in_full_and_the_llm_prompt(dashboard, tab):
    base, _ = dashboard
    tab.goto(f"{base}/market")
    settled(tab)
    heading = tab.locator("[data-testid='stMain'] h4").first
    heading.wait_for()
    newest = heading.inner_text()
    assert "HOLD" in newest and tab.locator(".st-key-vote_llm").count() == 0
    table = tab.locator(".st-key-decisions_table [data-testid='stDataFrameResizable']")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    tab.mouse.click(box["x"] + 12, box["y"] + 36 + 35 * 1.5)  # the second row: the older one
    tab.wait_for_function(
        "h => document.querySelector(\"[data-testid='stMain'] h4\").innerText !== h", arg=newest
    )
    settled(tab)
    technical = tab.locator(".st-key-vote_technical").inner_text()
    assert LONG_RATIONALE in " ".join(technical.split())  # whole, to its last word
    llm = tab.locator(".st-key-vote_llm")
    llm.locator("[data-testid='stCode']").first.wait_for()
    codes = [" ".join(t.split()) for t in llm.locator("[data-testid='stCode']").all_inner_texts()]
    assert " ".join(SYSTEM.split()) in codes and " ".join(USER.split()) in codes
    assert "tokens: prompt 212, reply 38" in llm.inner_text()
    main = " ".join(tab.locator("[data-testid='stMain']").inner_text().split())
    assert "-0.7550 / 2.500 = -0.3020" in main  # the consensus arithmetic
    tab.screenshot(path=str(SHOTS / "decision.png"), full_page=True)


def test_remote_text_in_an_event_is_shown_as_text_and_fetches_nothing(dashboard, tab, pixel):
    base, _ = dashboard
    tab.goto(f"{base}/system")
    settled(tab)
    event = tab.locator("[data-testid='stExpander']", has_text="remote")
    event.wait_for()
    assert "![x](" in event.inner_text()  # the markdown is shown as written
    shown = [e.evaluate("n => n.outerHTML")[:200] for e in event.locator("img, a").all()]
    assert not [h for h in shown if "pixel" in h], shown
    assert not Pixel.hits
