"""The Backtest page: a next step on an empty database; a run from the page shows its stats."""

from datetime import date

from sqlalchemy import select

from data.store.db import make_engine, make_session_factory
from data.store.models import BacktestRun, Command
from tests.support.pages import open_page
from tests.support.runs import run_engine, wait_for

PAGE = "views/backtest.py"


def test_an_empty_database_says_how_to_run_a_backtest(volt_home):
    app = open_page(PAGE)
    assert any("No backtests yet" in info.value for info in app.info)


def test_a_run_from_the_page_reports_progress_and_shows_its_statistics(volt_home):
    app = open_page(PAGE)
    app.multiselect(key="backtest_pairs").set_value(["BTC/USDT", "ETH/USDT"])
    app.date_input(key="backtest_from").set_value(date(2026, 2, 1))
    app.date_input(key="backtest_to").set_value(date(2026, 2, 4))
    app.text_input(key="backtest_label").set_value("from the page")
    app.button[0].click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.get("progress") or app.success, "the run shows its progress"

    factory = make_session_factory(make_engine())

    def finished():
        with factory() as session:
            command = session.scalars(select(Command).where(Command.kind == "backtest")).one()
            return command if command.status in ("done", "failed") else None

    command = wait_for(finished, timeout=60, what="the backtest process")
    assert command.status == "done", command.result
    with factory() as session:
        run = session.scalars(select(BacktestRun)).one()
    assert run.label == "from the page" and run.command_id == command.id

    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Done: run #" in s.value for s in app.success)
    labels = [m.label for m in app.metric]
    assert {"Return", "Buy & hold", "Sharpe", "Max drawdown", "Trades"} <= set(labels)
    stats = app.dataframe[0].value
    assert "Sortino ratio" in stats.index and f"#{run.id}" in stats.columns
    assert len(app.get("plotly_chart")) == 2  # equity against buy-and-hold; trades on prices


def test_a_stored_run_shows_its_chance_baseline_pairs_and_months(volt_home):
    done = run_engine(
        "backtest", "--synthetic", "5", "--pairs", "BTC/USDT", "ETH/USDT",
        "--from", "2026-02-01", "--to", "2026-02-05", VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    app = open_page(PAGE)
    assert not app.exception, [e.value for e in app.exception]
    texts = [m.value for m in app.markdown]
    assert any(t.startswith("**Chance baseline: ") and "random-entry runs" in t for t in texts)
    assert any(t.startswith("**Shifted signals: ") for t in texts)
    sharpe = next(m for m in app.metric if m.label == "Sharpe")
    assert sharpe.value == "n/a (span too short)"  # four days are not annualised
    stats, pairs, months = (table.value for table in app.dataframe[:3])  # then the trades
    assert stats.loc["Sharpe ratio"].iloc[0] == "n/a (span too short)"
    assert list(pairs.index) == ["BTC/USDT", "ETH/USDT"]
    assert {"Return [%]", "Buy & hold [%]", "Trades", "Chance p"} <= set(pairs.columns)
    assert list(months.index) == ["2026-02"] and list(months.columns) == ["Strategy", "Buy & hold"]


def test_a_run_from_the_page_is_selected_when_it_finishes(volt_home):
    earlier = run_engine(
        "backtest", "--synthetic", "5", "--pairs", "BTC/USDT",
        "--from", "2026-02-01", "--to", "2026-02-02", VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert earlier.returncode == 0, earlier.stderr
    app = open_page(PAGE)
    assert app.selectbox(key="backtest_run").value.startswith("#1 ")
    app.date_input(key="backtest_from").set_value(date(2026, 2, 1))
    app.date_input(key="backtest_to").set_value(date(2026, 2, 2))
    app.text_input(key="backtest_label").set_value("the new one")
    app.button[0].click().run()
    factory = make_session_factory(make_engine())

    def finished():
        with factory() as session:
            run = session.scalars(select(BacktestRun).where(BacktestRun.id == 2)).one_or_none()
            return run if run is not None and run.status == "done" else None

    wait_for(finished, timeout=60, what="the backtest from the page")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="backtest_run").value.startswith("#2 the new one")
    assert app.multiselect(key="backtest_compare").value[0].startswith("#2 the new one")
    assert "#2" in app.dataframe[0].value.columns  # the comparison table has it
