"""What `python -m engine backtest` prints, stores and exports: every figure beside
buy-and-hold's, each pair, the months and the chance baseline; a walk-forward's joined test
windows; and no annualised figure for a span too short to annualise."""

import csv
import re
import sqlite3
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import select

from data.stats.backtest_labels import SPAN_TOO_SHORT
from data.store.db import make_engine, make_session_factory
from data.store.models import BacktestRun, BacktestTrade
from engine.backtest.out_of_sample import chain
from tests.support.runs import run_engine

FOUR_DAYS = ("--synthetic", "5", "--pairs", "BTC/USDT", "ETH/USDT",
             "--from", "2026-02-01", "--to", "2026-02-05")  # fmt: skip


def stored_run():
    with make_session_factory(make_engine())() as session:
        run = session.scalars(select(BacktestRun)).one()
        trades = session.scalars(select(BacktestTrade)).all()
    return run, trades


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One four-day backtest, stored and exported, shared by the tests below."""
    home = tmp_path_factory.mktemp("volt-home")
    out = tmp_path_factory.mktemp("export")
    done = run_engine("backtest", *FOUR_DAYS, "--export", str(out), VOLT_HOME=str(home))
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr  # e.g. a plot option plotly ignores
    return SimpleNamespace(home=home, out=out, stdout=done.stdout)


def test_a_four_day_run_prints_no_annualised_figure(exported):
    lines = exported.stdout.splitlines()
    for label in ("Return (ann.) [%]", "Volatility (ann.) [%]", "Sharpe ratio", "Sortino ratio"):
        line = next(line for line in lines if line.startswith(label))
        assert SPAN_TOO_SHORT in line and "4.0 days" in line, line
        assert not re.search(r"-?\d+\.\d\d\b", line.split(SPAN_TOO_SHORT)[0]), line


def test_the_printout_has_each_pair_the_months_and_the_chance_baseline(exported):
    out = exported.stdout
    assert re.search(r"^Return \[%\] +[-+]?\d+\.\d\d +[-+]?\d+\.\d\d$", out, re.M)  # and B&H's
    for figure in ("Max drawdown duration [days]", "Expectancy", "Best trade [%]",
                   "Worst trade [%]", "Avg trade duration [h]", "Win rate [%]"):  # fmt: skip
        assert figure in out
    assert re.search(r"^BTC/USDT +-?\d", out, re.M) and re.search(r"^ETH/USDT +-?\d", out, re.M)
    assert re.search(r"^  2026-02 +[-+]\d+\.\d\d +[-+]\d+\.\d\d$", out, re.M)
    assert re.search(
        r"^Chance baseline: \d+ % of 200 random-entry runs did as well \(p = \d\.\d{3}\) — ",
        out,
        re.M,
    )


def test_the_stored_run_keeps_the_report(exported, monkeypatch):
    monkeypatch.setenv("VOLT_HOME", str(exported.home))
    run, trades = stored_run()
    assert run.stats["annualised"] is False and run.stats["sharpe"] is None
    assert 0 < run.stats["chance_p_value"] <= 1
    assert run.stats["buy_and_hold_max_drawdown_pct"] < 0
    assert set(run.report["pairs"]) == {"BTC/USDT", "ETH/USDT"}
    assert sum(p["trades"] for p in run.report["pairs"].values()) == len(trades)
    assert list(run.report["monthly"]) == ["2026-02"]
    assert [b["method"] for b in run.report["baselines"]] == ["random entries", "shifted signals"]


def test_export_writes_the_trades_the_curve_and_a_report_page(exported, monkeypatch):
    monkeypatch.setenv("VOLT_HOME", str(exported.home))
    run, trades = stored_run()
    with open(exported.out / "trades.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(trades) > 0
    assert {"pair", "entry_ts", "exit_ts", "pnl", "fees", "exit_reason"} <= set(rows[0])
    curve = pd.read_csv(exported.out / "equity.csv", index_col="ts")
    assert list(curve.columns) == [
        "equity", "buy_and_hold", "drawdown_pct", "buy_and_hold_drawdown_pct"
    ]  # fmt: skip
    assert len(curve) == run.stats["candles"] + 1  # every candle, and the moment before
    assert curve["equity"].iloc[-1] == pytest.approx(run.stats["final_equity"])
    page = (exported.out / "report.html").read_text()
    for names in ("Equity", "Buy & hold", "Drawdown [%]", "Chance baseline: "):
        assert names in page


def test_the_report_page_loads_nothing_from_the_network(exported):
    page = (exported.out / "report.html").read_text()
    bundle = re.search(r"<script[^>]*>\s*/\*\*\s*\* plotly\.js v[\s\S]*?</script>", page)
    assert bundle, "plotly.js is written into the page"
    rest = page[: bundle.start()] + page[bundle.end() :]
    assert not re.search(r"https?://", rest, re.I)
    # plotly.js itself names map-tile and font servers for map traces; nothing loads them
    # unless the page asks for a map, and no tag anywhere points outside the file.
    assert not re.search(r"<(script|link|img|iframe)[^>]*(src|href)\s*=", page, re.I)


def test_walk_forward_prints_and_stores_its_joined_test_windows(volt_home):
    done = run_engine(
        "backtest", "--synthetic", "2", "--pairs", "BTC/USDT",
        "--from", "2026-02-01", "--to", "2026-02-07", "--walk-forward", "--folds", "2",
        VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "out of sample, the 2 test windows joined" in out
    lines = {name: re.search(rf"^ +{name} +([-+]\d+\.\d\d)", out, re.M) for name in
             ("tuned weights", "configured weights", r"buy & hold")}  # fmt: skip
    assert all(lines.values()), out
    assert "Chance baseline: " in out
    run, trades = stored_run()
    assert run.label == "walk-forward, 2 folds" and run.status == "done"
    assert run.stats["return_pct"] == pytest.approx(float(lines["tuned weights"][1]), abs=0.006)
    configured = run.report["walk_forward"]["configured"]["return_pct"]
    assert configured == pytest.approx(float(lines["configured weights"][1]), abs=0.006)
    assert run.stats["buy_and_hold_pct"] == pytest.approx(float(lines["buy & hold"][1]), abs=0.006)
    assert len(run.report["walk_forward"]["folds"]) == 2
    assert run.stats["trades"] == len(trades)
    assert len(run.curve["equity"]) == len(run.curve["configured"]) == len(run.curve["ts"])


def test_test_windows_chain_each_growth_onto_the_last():
    times = pd.date_range("2026-02-01", periods=4, freq="5min", tz="UTC")
    first = SimpleNamespace(equity=pd.Series([100.0, 110.0], index=times[:2]))
    second = SimpleNamespace(equity=pd.Series([100.0, 90.0, 99.0], index=times[1:]))
    joined = chain([first, second])
    assert list(joined.index) == list(times)
    assert joined.to_numpy() == pytest.approx([100.0, 110.0, 99.0, 108.9])


def test_a_database_from_before_reports_gains_the_column(volt_home):
    make_engine().dispose()
    old = sqlite3.connect(volt_home / "volt.db")
    old.execute("ALTER TABLE backtest_runs DROP COLUMN report")
    old.commit()
    old.close()
    done = run_engine("backtest", *FOUR_DAYS, "--draws", "20", VOLT_HOME=str(volt_home))
    assert done.returncode == 0, done.stderr
    run, _ = stored_run()
    assert run.report["baselines"][0]["draws"] == 20
