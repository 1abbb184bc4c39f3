"""The Backtest page's Optimize view: a next step on an empty database; a stored search shows
its trials, importances, in-sample vs held-out scatter and held-out verdict; the form stores an
`optimize` command and starts its process; Stop stores `stop_optimize`; Apply writes the chosen
parameters as a new config file and never over an existing one."""

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from config import load_config
from config.loading import DEFAULT_CONFIG_PATH
from data.store.db import make_engine, make_session_factory, transaction, utcnow
from data.store.models import Command
from data.store.research import OptimizeRun, OptimizeTrial
from tests.support.pages import open_page
from tests.support.runs import run_engine, wait_for

PAGE = "views/backtest.py"
SEARCH = (
    "optimize", "--synthetic", "5", "--pairs", "BTC/USDT", "--from", "2026-01-01",
    "--to", "2026-02-15", "--trials", "6", "--jobs", "1", "--seed", "1", "--min-trades", "0",
)  # fmt: skip


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """A home whose database holds one finished search of six trials (a real process)."""
    home = tmp_path_factory.mktemp("searched") / "volt-home"
    home.mkdir()
    done = run_engine(*SEARCH, VOLT_HOME=str(home), VOLT_CONFIG="", VOLT_DB_URL="")
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture
def searched_home(searched, monkeypatch) -> Path:
    monkeypatch.setenv("VOLT_HOME", str(searched))
    monkeypatch.delenv("VOLT_DB_URL", raising=False)
    monkeypatch.delenv("VOLT_CONFIG", raising=False)
    return searched


def open_optimize():
    app = open_page(PAGE)
    app.radio(key="backtest_view").set_value("Optimize").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def stored_run() -> OptimizeRun:
    with make_session_factory(make_engine())() as session:
        return session.scalars(select(OptimizeRun)).one()


def figure(app, key: str) -> dict:
    chart = next(c for c in app.get("plotly_chart") if c.proto.id.endswith(key) or key in c.key)
    return json.loads(chart.proto.spec)


def test_an_empty_database_says_how_to_start_a_search(volt_home):
    app = open_optimize()
    assert any("No searches yet" in info.value for info in app.info)
    assert any(b.label == "Start the search" for b in app.button)


def test_the_backtest_view_is_still_the_default(volt_home):
    app = open_page(PAGE)
    assert app.radio(key="backtest_view").value == "Backtest"
    assert any("No backtests yet" in info.value for info in app.info)


def test_a_stored_search_shows_its_trials_with_both_sides_figures(searched_home):
    app = open_optimize()
    run = stored_run()
    table = next(t.value for t in app.dataframe if "Trial" in t.value.columns)
    assert list(table["Trial"]) == list(range(6))
    assert {"State", "In-sample Sharpe ratio", "Held-out Sharpe ratio"} <= set(table.columns)
    assert {"Held-out return [%]", "Held-out trades", "risk.stop_atr_multiple"} <= set(
        table.columns
    )
    with make_session_factory(make_engine())() as session:
        states = session.scalars(select(OptimizeTrial.state).order_by(OptimizeTrial.number)).all()
    assert list(table["State"]) == states
    progress = [p.proto.text for p in app.get("progress")]
    assert f"Search #{run.id}: 6 of {run.trials_asked} trials recorded · done" in progress


def test_a_stored_search_charts_its_importances_and_its_in_sample_against_held_out(
    searched_home,
):
    app = open_optimize()
    run = stored_run()
    bars = figure(app, "optimize_importances")["data"][0]
    assert set(bars["y"]) == set(run.importances)
    assert bars["y"][-1] == max(run.importances, key=run.importances.get)  # the top bar
    scatter = {trace["name"]: trace for trace in figure(app, "optimize_scatter")["data"]}
    best = run.summary["best_number"]
    chosen = scatter[f"chosen (trial #{best})"]
    with make_session_factory(make_engine())() as session:
        row = session.scalars(select(OptimizeTrial).where(OptimizeTrial.number == best)).one()
    assert (chosen["x"][0], chosen["y"][0]) == pytest.approx((row.in_sample, row.held_out))
    line = scatter["held out = in sample"]
    assert line["x"] == line["y"]


def test_a_stored_search_compares_chosen_defaults_and_buy_and_hold_held_out(searched_home):
    app = open_optimize()
    summary = stored_run().summary
    comparison = next(t.value for t in app.dataframe if "Chance p" in t.value.columns)
    chosen, defaults, held = comparison.index
    assert chosen == f"trial #{summary['best_number']} (chosen)"
    assert comparison.loc[chosen, "Return [%]"] == pytest.approx(
        summary["chosen"]["return_pct"], abs=1e-3
    )
    assert comparison.loc[held, "Return [%]"] == pytest.approx(
        summary["defaults"]["buy_and_hold_pct"], abs=1e-3
    )
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Deflated Sharpe ratio"] == f"{summary['overfitting']['value']:.3f}"
    assert metrics["Buy & hold"] == f"{summary['defaults']['buy_and_hold_pct']:+.2f}%"


def test_a_search_whose_best_is_not_trusted_says_keep_the_defaults(searched_home):
    summary = stored_run().summary
    assert not summary["beats_defaults"] or summary["overfitting"]["overfit"]  # six trials
    app = open_optimize()
    warning = " ".join(w.value for w in app.warning)
    assert "**Keep the defaults.**" in warning and summary["advice"] in warning
    assert not app.success


def test_a_search_that_beats_the_defaults_out_of_sample_says_so(volt_home):
    seed_run(status="done", summary=verdict_summary(beats=True, overfit=False))
    app = open_optimize()
    assert any("beat the defaults out of sample" in s.value for s in app.success)
    assert not any("Keep the defaults" in w.value for w in app.warning)


def test_the_form_stores_an_optimize_command_and_starts_its_process(volt_home, monkeypatch):
    launched = []
    monkeypatch.setattr("views.ui.launch_engine_command", lambda *a: launched.append(a))
    app = open_optimize()
    app.multiselect(key="optimize_pairs").set_value(["ETH/USDT"])
    app.date_input(key="optimize_from").set_value(date(2026, 1, 1))
    app.date_input(key="optimize_to").set_value(date(2026, 2, 15))
    app.number_input(key="optimize_trials").set_value(40)
    app.selectbox(key="optimize_objective").set_value("sortino")
    app.number_input(key="optimize_folds").set_value(4)
    app.number_input(key="optimize_holdout").set_value(0.3)
    app.number_input(key="optimize_seed").set_value(7)
    next(b for b in app.button if b.label == "Start the search").click().run()
    assert not app.exception, [e.value for e in app.exception]
    with make_session_factory(make_engine())() as session:
        command = session.scalars(select(Command)).one()
    assert command.kind == "optimize" and command.status == "pending"
    assert command.payload == {
        "synthetic": 42,
        "pairs": ["ETH/USDT"],
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-02-15T00:00:00+00:00",
        "trials": 40,
        "objective": "sortino",
        "folds": 4,
        "holdout": 0.3,
        "seed": 7,
        "min_trades": load_config(None).optimize.min_trades,
    }
    assert launched == [("optimize", command.id)]
    assert any("Starting the search" in p.proto.text for p in app.get("progress"))


def test_a_search_started_from_the_page_runs_and_shows_its_verdict(volt_home):
    app = open_optimize()
    app.date_input(key="optimize_from").set_value(date(2026, 1, 1))
    app.date_input(key="optimize_to").set_value(date(2026, 2, 15))
    app.number_input(key="optimize_trials").set_value(4)
    app.number_input(key="optimize_min_trades").set_value(0)
    app.number_input(key="optimize_seed").set_value(3)
    next(b for b in app.button if b.label == "Start the search").click().run()
    factory = make_session_factory(make_engine())

    def finished():
        with factory() as session:
            command = session.scalars(select(Command).where(Command.kind == "optimize")).one()
            return command if command.status in ("done", "failed") else None

    command = wait_for(finished, timeout=120, what="the optimize process")
    assert command.status == "done", command.result
    run = stored_run()
    assert run.command_id == command.id and run.status == "done"
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="optimize_run").value.startswith(f"#{run.id} ")
    assert any(run.summary["advice"] in m.value for m in [*app.warning, *app.success])


def test_a_search_started_from_the_page_is_picked_when_its_run_appears(volt_home, monkeypatch):
    monkeypatch.setattr("views.ui.launch_engine_command", lambda *a: None)
    seed_run(status="done", summary=verdict_summary(beats=True, overfit=False))
    app = open_optimize()
    assert app.selectbox(key="optimize_run").value.startswith("#1 ")
    next(b for b in app.button if b.label == "Start the search").click().run()
    with make_session_factory(make_engine())() as session:
        command = session.scalars(select(Command)).one()
    seed_run(status="running", command_id=command.id)  # as its process records it
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="optimize_run").value.startswith("#2 ")
    app.selectbox(key="optimize_run").select_index(1).run()  # the trader may go back
    assert app.selectbox(key="optimize_run").value.startswith("#1 ")


def test_the_form_sends_files_and_refuses_an_empty_list(volt_home, monkeypatch):
    launched = []
    monkeypatch.setattr("views.ui.launch_engine_command", lambda *a: launched.append(a))
    app = open_optimize()
    app.radio(key="optimize_source").set_value("Candle files or stored series")
    app.multiselect(key="optimize_pairs").set_value([])
    start = next(b for b in app.button if b.label == "Start the search")
    start.click().run()
    assert any("give at least one candle file" in e.value for e in app.error)
    app.text_area(key="optimize_data").set_value("/data/eth.csv\n\nbinance:ETH/BTC:5m\n")
    app.selectbox(key="optimize_gaps").set_value("fill")
    next(b for b in app.button if b.label == "Start the search").click().run()
    with make_session_factory(make_engine())() as session:
        payload = session.scalars(select(Command)).one().payload
    assert payload["data"] == ["/data/eth.csv", "binance:ETH/BTC:5m"] and payload["gaps"] == "fill"
    assert "synthetic" not in payload and "pairs" not in payload and "start" not in payload
    assert len(launched) == 1


def test_stop_stores_a_stop_optimize_command_for_the_running_search(volt_home):
    run_id = seed_run(status="running")
    app = open_optimize()
    assert any("1 of 10 trials recorded · running" in p.proto.text for p in app.get("progress"))
    app.button(key="optimize_stop").click().run()
    assert not app.exception, [e.value for e in app.exception]
    with make_session_factory(make_engine())() as session:
        command = session.scalars(select(Command)).one()
    assert (command.kind, command.payload) == ("stop_optimize", {"run_id": run_id})
    assert any("Stop asked" in i.value for i in app.info)


def test_a_finished_search_has_no_stop_button(searched_home):
    app = open_optimize()
    assert not any(b.key == "optimize_stop" for b in app.button)


def test_apply_writes_the_chosen_parameters_as_a_new_config_that_loads(searched_home):
    run = stored_run()
    running = Path(DEFAULT_CONFIG_PATH).read_bytes()
    target = searched_home / "configs" / "tuned.toml"
    app = open_optimize()
    assert app.text_input(key="optimize_config_path").value.endswith(
        f"configs/optimized-run-{run.id}.toml"
    )
    app.text_input(key="optimize_config_path").set_value(str(target))
    app.button(key="optimize_apply").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(f"VOLT_CONFIG={target}" in s.value for s in app.success)
    tuned = load_config(target)
    best = run.best_params
    assert tuned.risk.stop_atr_multiple == pytest.approx(best["risk.stop_atr_multiple"])
    assert tuned.indicators.rsi_period == best["indicators.rsi_period"]
    assert tuned.agents.weights["technical"] == pytest.approx(best["agents.weights.technical"])
    assert f"run #{run.id}" in target.read_text().splitlines()[0]
    assert Path(DEFAULT_CONFIG_PATH).read_bytes() == running  # the running config untouched


def test_apply_refuses_to_write_over_an_existing_file(searched_home):
    target = searched_home / "mine.toml"
    target.write_text("# my own config\n")
    app = open_optimize()
    app.text_input(key="optimize_config_path").set_value(str(target))
    app.button(key="optimize_apply").click().run()
    assert any("already exists" in e.value for e in app.error)
    assert target.read_text() == "# my own config\n"


def test_apply_writes_nowhere_outside_volt_home(searched_home, tmp_path):
    # A dashboard open to the network must not become a way to write files anywhere.
    target = tmp_path / "elsewhere" / "tuned.toml"
    app = open_optimize()
    app.text_input(key="optimize_config_path").set_value(str(target))
    app.button(key="optimize_apply").click().run()
    assert any("must lie under" in e.value for e in app.error)
    assert not target.exists()


def verdict_summary(beats: bool, overfit: bool) -> dict:
    figures = {
        "objective": 1.2, "return_pct": 3.0, "sharpe": 1.2, "max_drawdown_pct": -1.0,
        "trades": 30, "buy_and_hold_pct": 2.0, "buy_and_hold_sharpe": 0.8, "p_value": 0.04,
    }  # fmt: skip
    return {
        "objective": "sharpe",
        "trials": 10,
        "best_number": 0,
        "chosen": figures,
        "defaults": figures | {"objective": 0.1, "return_pct": 0.5},
        "overfitting": {
            "name": "deflated Sharpe ratio",
            "value": 0.97,
            "trials": 10,
            "benchmark": 0.1,
            "overfit": overfit,
        },  # fmt: skip
        "beats_defaults": beats,
        "advice": "the best trial beats the configured defaults' Sharpe ratio",
        "config_written": None,
    }


def seed_run(status: str, summary: dict | None = None, command_id: int | None = None) -> int:
    """A search row with one complete trial, as a search process leaves it."""
    with transaction(make_session_factory(make_engine())) as session:
        run = OptimizeRun(
            created_at=utcnow(), study="seeded", objective="sharpe", status=status,
            trials_asked=10, source="synthetic seed 1", pairs=["BTC/USDT"], timeframe="5m",
            best_params={"risk.stop_atr_multiple": 3.0} if summary else None,
            importances={"risk.stop_atr_multiple": 1.0} if summary else None,
            summary=summary, command_id=command_id,
        )  # fmt: skip
        session.add(run)
        session.flush()
        session.add(
            OptimizeTrial(
                run_id=run.id,
                number=0,
                state="complete",
                finished_at=utcnow(),
                params={"risk.stop_atr_multiple": 3.0},
                in_sample=1.5,
                held_out=1.2,
                figures={"held_out": {"return_pct": 3.0, "trades": 30}},
            )  # fmt: skip
        )
        return run.id
