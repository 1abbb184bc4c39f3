"""Every page renders in AppTest on an empty and a populated database; buttons write commands."""

import io
import json

import pandas as pd
import pytest
from sqlalchemy import select

from config import load_config
from data import queries
from data.store.db import make_engine, make_session_factory
from data.store.events import record_event
from data.store.models import Command
from data.store.state import update_state
from engine.clock import FastForwardClock
from engine.runtime.metrics import record_metrics
from engine.wiring import build_trader
from tests.support.pages import PAGES, open_page
from tests.support.runs import ROOT, START, run_engine, run_ticks
from tests.support.trades import reference_csv
from views import password

# The default team, learning from few outcomes so the Agents page has weights to show.
POPULATED_CONFIG = """
[agents.learning]
min_samples = 1
outcome_horizon_hours = 2
"""


@pytest.fixture(scope="module")
def populated_home(tmp_path_factory):
    """One simulated market day of trading, built once for the module's read-only tests."""
    home = tmp_path_factory.mktemp("populated")
    (home / "volt.toml").write_text(POPULATED_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOLT_HOME", str(home))
        patch.setenv("VOLT_CONFIG", str(home / "volt.toml"))
        patch.delenv("VOLT_DB_URL", raising=False)
        engine = make_engine()
        factory = make_session_factory(engine)
        clock = FastForwardClock(START)
        trader = build_trader(load_config(), factory, clock)
        run_ticks(trader, clock, market_hours=24)
        try:
            raise RuntimeError("feed timed out (test)")
        except RuntimeError as exc:
            record_event(factory, "ERROR", "worker", "log", "tick failed", exc=exc)
        record_metrics(factory, None, retention_hours=1)
        assert not queries.trades(engine).empty, "a simulated day should close trades"
    yield home, engine
    engine.dispose()


@pytest.fixture
def populated(populated_home, monkeypatch):
    home, engine = populated_home
    monkeypatch.setenv("VOLT_HOME", str(home))
    monkeypatch.setenv("VOLT_CONFIG", str(home / "volt.toml"))
    monkeypatch.delenv("VOLT_DB_URL", raising=False)
    return engine


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_an_empty_database_with_a_next_step(page, volt_home):
    app = open_page(page)
    texts = " ".join(e.value for e in [*app.info, *app.caption, *app.markdown, *app.warning])
    assert texts.strip(), f"{page} shows nothing on an empty database"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_a_populated_database(page, populated):
    open_page(page)


def test_overview_shows_equity_and_pnl(populated):
    app = open_page("views/overview.py")
    labels = [m.label for m in app.metric]
    expected = {"Equity (USDT)", "Realised P&L (USDT)", "Unrealised P&L (USDT)", "Open positions"}
    assert expected <= set(labels)
    assert app.get("plotly_chart"), "the equity curve is missing"


def test_market_page_charts_the_rsi_length_the_agents_read(populated, tmp_path, monkeypatch):
    config = tmp_path / "rsi9.toml"
    config.write_text(POPULATED_CONFIG + "\n[indicators]\nrsi_period = 9\n")
    monkeypatch.setenv("VOLT_CONFIG", str(config))
    app = open_page("views/market.py")
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert "RSI 9" in {trace.get("name") for trace in spec["data"]}


def test_market_page_shows_candles_indicators_and_vote_rationale(populated):
    app = open_page("views/market.py")
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    names = {trace.get("name") for trace in spec["data"]}
    assert {"BTC/USDT", "Upper band", "Lower band", "RSI 14"} <= names
    decisions = app.dataframe[0].value
    says = {"technical": "RSI(14)", "regime": "regime", "sentiment": "crowd"}
    assert {f"{agent} vote" for agent in says} <= set(decisions.columns)
    shown = [m.value for m in app.markdown]  # the newest decision, every vote in full
    for agent, word in says.items():
        header = next(i for i, text in enumerate(shown) if text.startswith(f"**{agent}**"))
        assert word in shown[header + 1]


def test_agents_page_shows_leaderboard_weights_and_filtered_timeline(populated):
    app = open_page("views/agents.py")
    board = app.dataframe[0].value
    assert set(board["agent"]) == {"technical", "regime", "sentiment"}
    assert board["accuracy"].notna().any() and board["calls judged"].sum() > 0
    moved = queries.weight_history(populated)
    assert not moved.empty
    latest = moved.groupby("agent")["weight"].last()
    for agent, weight in latest.items():
        assert board.set_index("agent").loc[agent, "weight"] == pytest.approx(weight)
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert {trace["name"] for trace in spec["data"]} == set(latest.index)

    timeline = app.dataframe[-1].value
    assert {"technical vote", "regime vote", "sentiment vote"} <= set(timeline.columns)
    app.selectbox(key="agents_agent").select("sentiment").run()
    timeline = app.dataframe[-1].value
    assert timeline["rationale"].str.contains("crowd").all()
    resolved = queries.journal(populated)["outcome"].iloc[0]
    app.selectbox(key="agents_agent").select("all").run()
    app.selectbox(key="agents_outcome").select(resolved).run()
    timeline = app.dataframe[-1].value
    assert len(timeline) > 0 and set(timeline["outcome"]) == {resolved}
    assert set(timeline["action"]) <= {"BUY", "SELL"}


def test_agents_page_shows_the_llm_status_the_engine_reported(volt_home, store):
    from data.store.db import transaction
    from data.store.models import Decision, VoteRow

    # Four stored LLM votes, one an abstention: the rates come from these, not the counters
    # of a worker that may have restarted since.
    with transaction(store[1]) as session:
        for i, latency in enumerate([1000.0, 1800.0, 1900.0, 3000.0]):
            decision = Decision(
                ts=START,
                pair="BTC/USDT",
                candle_ts=START.replace(minute=5 * i),
                price=1.0,
                action="HOLD",
                score=0.0,
                threshold=0.55,
            )
            session.add(decision)
            session.flush()
            session.add(
                VoteRow(
                    decision_id=decision.id,
                    agent="llm",
                    action="HOLD",
                    confidence=0.0,
                    weight=0.0,
                    rationale="r",
                    data={"latency_ms": latency},
                    source="abstain" if i == 0 else "llm",
                )
            )
    update_state(
        store[1],
        llm_status={
            "reachable": False,
            "model": "llama3.2:3b",
            "host": "http://127.0.0.1:11434",
            "last_error": "connection refused",
            "last_error_at": "2026-03-01T10:00:00+00:00",
            "calls": 40,
            "abstentions": 10,
            "median_latency_ms": 1850.0,
            "offline_reason": "LLM offline: Ollama not reachable at http://127.0.0.1:11434",
        },
    )
    app = open_page("views/agents.py")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Ollama"] == "offline" and metrics["Model"] == "llama3.2:3b"
    assert metrics["Median latency"] == "1.9 s" and metrics["Abstain rate"] == "25%"
    assert any("not reachable" in w.value for w in app.warning)
    assert any("connection refused" in c.value for c in app.caption)


def test_system_page_shows_temperature_or_no_sensor_and_tracebacks(populated):
    app = open_page("views/system.py")
    temperature = next(m for m in app.metric if m.label == "CPU temperature")
    assert temperature.value == "no sensor" or temperature.value.endswith("°C")
    assert any("feed timed out (test)" in c.value for c in app.code)


def test_stop_button_inserts_a_stop_command(volt_home, store):
    app = open_page("views/control.py")
    app.button(key="stop").click().run()
    assert not app.exception
    with store[1]() as session:
        commands = session.scalars(select(Command)).all()
    assert [(c.kind, c.status) for c in commands] == [("stop", "pending")]


def test_start_asks_for_confirmation_before_sending(volt_home, store):
    app = open_page("views/control.py")
    app.button(key="start").click().run()
    with store[1]() as session:
        assert session.scalars(select(Command)).all() == []
    app.button(key="start_confirm").click().run()
    with store[1]() as session:
        assert [c.kind for c in session.scalars(select(Command)).all()] == ["start"]


def test_kill_needs_the_typed_confirmation(volt_home, store):
    app = open_page("views/kill_switch.py")
    assert app.button(key="kill").disabled
    app.text_input(key="kill_confirm_text").input("kill").run()
    assert app.button(key="kill").disabled, "the confirmation is case-sensitive"
    app.text_input(key="kill_confirm_text").input("KILL").run()
    app.button(key="kill").click().run()
    assert not app.exception
    with store[1]() as session:
        assert [c.kind for c in session.scalars(select(Command)).all()] == ["kill"]


def test_csv_export_rows_equal_the_trades_table(populated):
    app = open_page("views/trades.py")
    assert not app.get("download_button")  # built on request, not on every render
    app.button(key="trades_csv_prepare").click().run()
    assert not app.exception
    (download,) = app.get("download_button")
    table = queries.trades(populated)
    assert download.proto.label == f"Download trades as CSV ({len(table):,} trades, as prepared)"
    data, rows = app.session_state["trades_csv_data"]
    assert rows == len(table) and data == queries.trades_csv(table)
    exported = pd.read_csv(io.BytesIO(data))
    assert len(exported) == len(table) > 0
    assert exported["id"].tolist() == table["id"].tolist()
    for column in ("amount", "entry_price", "exit_price", "fees", "pnl"):
        assert exported[column].tolist() == pytest.approx(table[column].tolist(), rel=1e-9)
    assert exported["exit_reason"].tolist() == table["exit_reason"].tolist()
    assert pd.to_datetime(exported["exit_ts"], utc=True).tolist() == table["exit_ts"].tolist()


def test_csv_export_of_stored_trades_is_the_per_value_format(populated):
    frame = queries.trades(populated)
    assert not frame.empty
    assert queries.trades_csv(frame) == reference_csv(frame)


def test_summary_and_latest_trades_agree_with_the_whole_table(populated):
    table = queries.trades(populated)
    summary = queries.trade_summary(populated)
    assert summary["trades"] == len(table)
    assert summary["wins"] == int((table["pnl"] > 0).sum())
    assert summary["pnl"] == pytest.approx(float(table["pnl"].sum()), abs=1e-6)
    assert summary["fees"] == pytest.approx(float(table["fees"].sum()), abs=1e-6)
    latest = queries.latest_trades(populated, 3)
    expected = table.iloc[::-1].head(3).reset_index(drop=True)
    pd.testing.assert_frame_equal(latest, expected)


def test_no_pages_folder_beside_app_py():
    # Streamlit would run each first session after a start as an old-style multipage app,
    # listing every file in it (helpers included) and skipping this router's sidebar.
    assert not (ROOT / "pages").exists()


UNLOCK = "FormSubmitter:unlock-Unlock"


@pytest.mark.parametrize("page", ["views/control.py", "views/kill_switch.py"])
def test_controls_need_the_password_when_the_dashboard_is_exposed(page, exposed, monkeypatch):
    monkeypatch.setenv("VOLT_DASHBOARD_PASSWORD", "correct horse")
    app = open_page(page)
    assert [b.key for b in app.button] == [UNLOCK], "no control may show before the password"
    app.text_input(key="password").input("wrong")
    app.button(key=UNLOCK).click().run()  # a form sends its fields with the submit
    assert any("Wrong password" in e.value for e in app.error)
    assert not [b for b in app.button if b.key in ("kill", "stop")]
    waited = password.clock() + password.wait_after(1)
    monkeypatch.setattr(password, "clock", lambda: waited)  # the wrong guess's wait is over
    app.text_input(key="password").input("correct horse")
    app.button(key=UNLOCK).click().run()
    assert not app.exception
    assert [b for b in app.button if b.key in ("kill", "stop")]


def test_exposed_controls_stay_locked_without_a_password(exposed, monkeypatch):
    monkeypatch.delenv("VOLT_DASHBOARD_PASSWORD", raising=False)
    app = open_page("views/kill_switch.py")
    assert not app.button and not app.text_input
    assert any("VOLT_DASHBOARD_PASSWORD" in e.value for e in app.error)


def test_an_exposed_dashboard_without_a_password_does_not_start(exposed, monkeypatch):
    monkeypatch.delenv("VOLT_DASHBOARD_PASSWORD", raising=False)
    result = run_engine("check")
    assert result.returncode == 2
    assert "set VOLT_DASHBOARD_PASSWORD" in result.stderr
    monkeypatch.setenv("VOLT_DASHBOARD_PASSWORD", "correct horse")
    assert run_engine("check", "--dashboard-address").stdout.strip() == "0.0.0.0"
    assert "correct horse" not in run_engine("check").stdout


def test_the_sidebar_shows_pnl_today_and_the_kill_switch_link(populated):
    app = open_page("views/overview.py")
    sidebar = " ".join(m.value for m in app.sidebar.markdown)
    assert "P&L today (USDT):" in sidebar


@pytest.mark.parametrize("page", ["views/overview.py", "views/kill_switch.py"])
def test_risk_panel_shows_exposure_each_protection_and_rejections(page, volt_home, store):
    from datetime import timedelta

    from data.store.db import transaction
    from data.store.models import ProtectionLock, Rejection
    from views.risk_panel import PROTECTIONS

    with transaction(store[1]) as session:
        session.add(
            ProtectionLock(
                protection="max_drawdown",
                reason="equity 8,000.00 is 20.0% below its peak 10,000.00 (limit 15%)",
                clears="entries resume at 2026-03-02 00:00 UTC",
                ts=START,
                until=START + timedelta(days=1),
            )
        )
        session.add(
            Rejection(
                ts=START, pair="BTC/USDT", side="buy", source="risk", reason="BTC/USDT: max_dd"
            )
        )
    update_state(store[1], market_time=START)  # locks run on the engine's market clock
    app = open_page(page)
    labels = {m.label for m in app.metric}
    assert {"Exposure", "Largest position", "Drawdown from peak"} <= labels
    frames = [frame.value for frame in app.dataframe]
    protections = next(f for f in frames if "question" in f.columns)
    assert list(protections["protection"]) == list(PROTECTIONS)
    drawdown = protections[protections["protection"] == "max_drawdown"].iloc[0]
    assert drawdown["state"].startswith("BLOCKING: equity 8,000.00 is 20.0% below")
    assert drawdown["clears"] == "entries resume at 2026-03-02 00:00 UTC"
    assert (protections[protections["protection"] != "max_drawdown"]["state"] == "clear").all()
    rejected = next(f for f in frames if "source" in f.columns)
    assert rejected["reason"].tolist() == ["BTC/USDT: max_dd"]
    assert any("block new entries" in w.value for w in app.warning)


def test_the_risk_panel_shows_a_halt_as_what_blocks_entries(volt_home, store):
    update_state(store[1], halted=True, halt_reason="kill switch (command #3)")
    app = open_page("views/kill_switch.py")
    protections = next(f.value for f in app.dataframe if "question" in f.value.columns)
    kill = protections[protections["protection"] == "kill_switch"].iloc[0]
    assert kill["state"] == "BLOCKING: engine halted: kill switch (command #3)"
    headline = "New entries blocked: engine halted: kill switch (command #3)."
    assert any(e.value.startswith(headline) for e in app.error)
    assert not any("No protection blocks" in c.value for c in app.caption)


def test_the_risk_panel_says_entries_are_paused_while_the_trader_paused_them(volt_home, store):
    update_state(store[1], status="paused", entries_paused=True)
    app = open_page("views/overview.py")
    assert any(w.value.startswith("New entries paused from the Control page") for w in app.warning)
    assert not any("No protection blocks" in c.value for c in app.caption)


def test_the_risk_panel_lists_every_protection_the_engine_runs():
    from engine.wiring import build_protections
    from views.risk_panel import PROTECTIONS

    assert list(PROTECTIONS) == [p.name for p in build_protections(load_config())]


def test_the_kill_switch_page_says_what_the_last_kill_left_open(volt_home, store):
    from data.store.commands import finish_command, submit_command

    kill = submit_command(store[1], "kill")
    finish_command(store[1], kill, False, "NOT CLOSED after 3 attempts: BTC/USDT: down (test)")
    app = open_page("views/kill_switch.py")
    assert any("did not close everything" in e.value and "BTC/USDT" in e.value for e in app.error)


def test_a_command_the_busy_database_refuses_says_so_and_asks_to_press_again(
    volt_home, store, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    def locked(*args, **kwargs):
        raise OperationalError("INSERT INTO commands", {}, Exception("database is locked"))

    monkeypatch.setattr("views.ui.submit_command", locked)
    app = open_page("views/control.py")
    app.button(key="stop").click().run()
    assert not app.exception
    assert any("NOT recorded" in e.value and "press again" in e.value for e in app.error)
