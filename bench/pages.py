"""How long each page takes to settle after a sidebar click, in a real browser, on a big
database: `python bench/pages.py [--rounds 5] [--scale 1] [--cache] [--queries]`.

Seeds a temporary VOLT_HOME (bench/seed_dashboard.py: 1M candles, 100k decisions, 100k
trades, ... at --scale 1), starts the dashboard alone (`streamlit run app.py`, no engine) and
drives Debian's Chromium through Playwright: for every page in app.py's navigation, click
its sidebar link and time it until the page has settled (the script ran and stopped, the
heading is the new page's, no element is stale, no spinner or chart still loading in the
window). Each click first waits out the dashboard's 2-second read cache, so every read runs.
One warm-up round, then --rounds timed rounds; prints median and max per page against 1 s,
and the CPU the dashboard's process and Chromium spent per click: on a machine other
programs load, the wall-clock figures grow with their load, the CPU figures much less.

--queries times every data.queries read the pages make, on the same database, instead.
--cache keeps the seeded database under /tmp (one per scale and seeder version) and copies
it for each run.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed_dashboard import PAIRS, row_counts, seed  # noqa: E402

CHROMIUM = Path(os.environ.get("VOLT_CHROMIUM", "/usr/bin/chromium"))
CACHE = Path(tempfile.gettempdir()) / "volt-bench-pages"
GOAL_MS = 1000
READ_CACHE_S = 2.5  # views.ui.READ_TTL_SECONDS, and a little

# Armed before each click: records that the app's script started running after it.
WATCH_RUN = """() => {
  window.__voltRan = false;
  const app = document.querySelector("[data-testid='stApp']");
  if (window.__voltWatch) window.__voltWatch.disconnect();
  window.__voltWatch = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') window.__voltRan = true;
  });
  window.__voltWatch.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
# What the page still waits for after the click; "" once the run after it is over and the
# new page is drawn.
UNSETTLED = """(title) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!window.__voltRan) return 'no script run since the click';
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return 'script running';
  const main = document.querySelector("[data-testid='stMain']");
  const heading = main && main.querySelector('h1');
  if (!heading || !heading.textContent.includes(title))
    return 'heading: ' + (heading ? heading.textContent : 'none');
  if (main.querySelector("[data-stale='true']")) return 'stale elements';
  // What the trader sees: spinners, placeholders and charts in the window (Streamlit draws
  // some elements only when they scroll into view).
  const seen = (el) => el.getBoundingClientRect().top < window.innerHeight;
  if ([...main.querySelectorAll("[data-testid='stSpinner'], [data-testid='stSkeleton']")]
      .some(seen)) return 'spinner';
  for (const chart of main.querySelectorAll("[data-testid='stPlotlyChart']"))
    if (seen(chart) && !chart.querySelector('.main-svg')) return 'chart not drawn';
  return '';
}"""


def navigation_pages() -> list[str]:
    """The titles of the pages app.py's st.navigation lists, read now (pages come and go)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    titles = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Page":
            title = next(k.value.value for k in node.keywords if k.arg == "title")
            titles.append(title)
    return titles


def seeded_home(scale: float, cached: bool) -> Path:
    """A temporary VOLT_HOME holding the seeded database (copied from the cache with --cache)."""
    home = Path(tempfile.mkdtemp(prefix="volt-bench-pages-"))
    # Keyed by the seeder's source too, so a changed seeder never reuses an old database.
    digest = hashlib.sha1((ROOT / "bench" / "seed_dashboard.py").read_bytes()).hexdigest()[:8]
    source = CACHE / f"scale-{scale:g}-{digest}" / "volt.db"
    if cached and source.exists():
        shutil.copy(source, home / "volt.db")
        print(f"database copied from {source}")
        return home
    from data.store.db import make_engine

    began = time.perf_counter()
    engine = make_engine(f"sqlite:///{home / 'volt.db'}")
    seed(engine, scale)
    engine.dispose()
    print(f"database seeded in {time.perf_counter() - began:.0f} s")
    if cached:
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(home / "volt.db", source)
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_dashboard(home: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("VOLT_DB_URL", "VOLT_CONFIG")}
    env["VOLT_HOME"] = str(home)
    log = open(home / "dashboard.log", "wb")  # noqa: SIM115  (the process holds it)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"the dashboard did not answer in 60 s; see {home / 'dashboard.log'}")


def cpu_ms(processes: list[psutil.Process]) -> float:
    """CPU time the processes have used so far (those gone count nothing)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total * 1000


def time_pages(base: str, titles: list[str], rounds: int, server: int) -> dict[str, list]:
    """Per page, each timed click's (ms to settled, CPU ms of the dashboard's process, CPU
    ms of Chromium's): the CPU figures hold while other programs load the machine."""
    from playwright.sync_api import TimeoutError as PageTimeout
    from playwright.sync_api import sync_playwright

    times: dict[str, list[tuple]] = {title: [] for title in titles}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        tab = browser.new_page(viewport={"width": 1366, "height": 900})
        tab.set_default_timeout(30_000)
        dashboard = [psutil.Process(server)]
        chromium = [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name()]
        tab.goto(base)
        tab.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
        nav = tab.locator("[data-testid='stSidebarNav']")
        for round_ in range(rounds + 1):  # the first round warms imports and caches
            for title in titles:
                tab.wait_for_timeout(READ_CACHE_S * 1000)
                tab.evaluate(WATCH_RUN)
                link = nav.get_by_role("link", name=title, exact=True)
                served, drawn = cpu_ms(dashboard), cpu_ms(chromium)
                began = time.perf_counter()
                link.click()
                try:
                    tab.wait_for_function(f"(t) => !({UNSETTLED})(t)", arg=title, polling="raf")
                except PageTimeout as exc:
                    why = tab.evaluate(UNSETTLED, title)
                    raise SystemExit(f"{title}: not settled after 30 s ({why})") from exc
                elapsed = (time.perf_counter() - began) * 1000
                served, drawn = cpu_ms(dashboard) - served, cpu_ms(chromium) - drawn
                if tab.locator("[data-testid='stException']").count():
                    raise SystemExit(f"{title}: {tab.inner_text('[data-testid=stException]')}")
                if round_:
                    times[title].append((elapsed, served, drawn))
        browser.close()
    return times


def page_table(times: dict[str, list]) -> None:
    """Median and worst click to settled, and the median CPU the dashboard and Chromium
    spent on it; PASS when the median is under the goal."""
    print(
        f"{'page':<14} {'median ms':>10} {'max ms':>8} {'over 1 s':>9} "
        f"{'server CPU ms':>14} {'browser CPU ms':>15}"
    )
    for title, clicks in times.items():
        settled = [ms for ms, _, _ in clicks]
        median, worst = statistics.median(settled), max(settled)
        served = statistics.median(cpu for _, cpu, _ in clicks)
        drawn = statistics.median(cpu for _, _, cpu in clicks)
        over = sum(ms >= GOAL_MS for ms in settled)
        verdict = "PASS" if median < GOAL_MS else "FAIL"
        print(
            f"{title:<14} {median:>10.0f} {worst:>8.0f} {over:>5}/{len(settled):<3} "
            f"{served:>14.0f} {drawn:>15.0f}  {verdict}"
        )


def query_calls(engine) -> list[tuple[str, Callable[[], object]]]:
    """Each read a page makes, with the arguments it makes it with; then any other public
    read that needs only the store (new pages' reads are timed without listing them here)."""
    from data import queries

    pair = next(iter(PAIRS))
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    runs = queries.backtest_runs(engine)
    run_id = int(runs["id"].iloc[0]) if not runs.empty else 1
    first_bar = queries.candles(engine, pair, 300).index[0].to_pydatetime()
    decisions = row_counts(engine)["decisions"]  # the newest decision's id
    listed = {
        "engine_state()": lambda: queries.engine_state(engine),
        "equity_curve()": lambda: queries.equity_curve(engine),
        "pnl_today(midnight)": lambda: queries.pnl_today(engine, midnight, 10_000.0),
        "open_positions()": lambda: queries.open_positions(engine),
        "realised_pnl()": lambda: queries.realised_pnl(engine),
        "realised_pnl(midnight)": lambda: queries.realised_pnl(engine, midnight),
        "equity_and_peak()": lambda: queries.equity_and_peak(engine),
        "protection_locks()": lambda: queries.protection_locks(engine),
        "rejections(20)": lambda: queries.rejections(engine, 20),
        "candles(pair, 300)": lambda: queries.candles(engine, pair, 300),
        "trade_markers(pair, since)": lambda: queries.trade_markers(engine, pair, first_bar),
        "decision_list(pair, limit=30)": lambda: queries.decision_list(engine, pair=pair, limit=30),
        "decision_list()": lambda: queries.decision_list(engine),
        "llm_votes()": lambda: queries.llm_votes(engine),
        "agent_scoreboard(50)": lambda: queries.agent_scoreboard(engine, 50),
        "decision_detail(newest)": lambda: queries.decision_detail(engine, decisions),
        "weight_history()": lambda: queries.weight_history(engine),
        "trade_summary()": lambda: queries.trade_summary(engine),
        "latest_trades(500)": lambda: queries.latest_trades(engine, 500),
        "latest_metrics()": lambda: queries.latest_metrics(engine),
        "metrics_history()": lambda: queries.metrics_history(engine),
        "events(100)": lambda: queries.events(engine, 100),
        "events(100, WARNING)": lambda: queries.events(engine, 100, "WARNING"),
        "commands(20)": lambda: queries.commands(engine, 20),
        "commands(1, kill)": lambda: queries.commands(engine, 1, ("kill",)),
        "exchange_status()": lambda: queries.exchange_status(engine),
        "backtest_runs()": lambda: queries.backtest_runs(engine),
        "backtest_report(run)": lambda: queries.backtest_report(engine, run_id),
        "backtest_curve(run)": lambda: queries.backtest_curve(engine, run_id),
        "backtest_trades(run)": lambda: queries.backtest_trades(engine, run_id),
        "optimize_runs()": lambda: queries.optimize_runs(engine),
    }
    named = {label.split("(")[0] for label in listed}
    for name in queries.__all__:
        if name not in named and name not in ("trades", "trades_csv", "latest_evidence"):
            listed[f"{name}()"] = lambda name=name: getattr(queries, name)(engine)
    return list(listed.items())


def time_queries(home: Path, repeat: int) -> None:
    from data.store.db import make_engine

    engine = make_engine(f"sqlite:///{home / 'volt.db'}")
    results = []
    for label, call in query_calls(engine):
        try:
            call()  # warm: SQLite's page cache, as the dashboard's would be
        except (AttributeError, TypeError) as exc:  # renamed, or needs arguments unknown here
            print(f"{label:<34} skipped ({exc})")
            continue
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            call()
            times.append((time.perf_counter() - began) * 1000)
        results.append((statistics.median(times), label))
    print(f"{'query':<34} {'median ms':>10}")
    for median, label in sorted(results, reverse=True):
        print(f"{label:<34} {median:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed clicks per page")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 100k trades, 1M candles")
    parser.add_argument("--cache", action="store_true", help="reuse the seeded database")
    parser.add_argument("--queries", action="store_true", help="time each read instead")
    parser.add_argument("--page", action="append", help="only this page (title; repeatable)")
    args = parser.parse_args()
    home = seeded_home(args.scale, args.cache)
    try:
        from data.store.db import make_engine

        engine = make_engine(f"sqlite:///{home / 'volt.db'}")  # builds any index added since
        counts = row_counts(engine)
        engine.dispose()
        print("rows: " + ", ".join(f"{table} {rows:,}" for table, rows in counts.items() if rows))
        if args.queries:
            time_queries(home, max(args.rounds, 3))
            return
        port = free_port()
        dashboard = start_dashboard(home, port)
        try:
            titles = [t for t in navigation_pages() if not args.page or t in args.page]
            times = time_pages(f"http://127.0.0.1:{port}", titles, args.rounds, dashboard.pid)
        finally:
            dashboard.terminate()
            dashboard.wait(timeout=30)
        # Other processes' load shows in every figure: the machine's share is part of the result.
        print(
            f"click to settled, {args.rounds} rounds after a warm-up, read cache expired "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):"
        )
        page_table(times)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
