"""The Performance page: profit by day and by pair, and the paper reset's typed confirmation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from data.store.models import Command
from data.store.state import update_state
from tests.support.pages import open_page, plotly_values
from tests.support.performance import add_reset, add_trades

PAGE = "views/performance.py"
DAY = datetime(2026, 3, 2, 12, tzinfo=UTC)


def reset_commands(factory) -> list[Command]:
    with factory() as session:
        return session.scalars(select(Command).where(Command.kind == "reset_paper")).all()


def test_closed_trades_show_by_day_and_by_pair_with_totals(volt_home, store):
    add_trades(
        store[1],
        [
            ("BTC/USDT", DAY, 30.0, 1.0),
            ("BTC/USDT", DAY + timedelta(days=1), -10.0, 0.5),
            ("ETH/USDT", DAY + timedelta(days=1), 5.0, 0.5),
        ],
    )

    app = open_page(PAGE)

    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Closed trades"] == "3"
    assert metrics["Win rate"] == "66.7%"
    assert metrics["Realised P&L (USDT)"] == "+25.00"
    assert metrics["Fees paid (USDT)"] == "2.00"
    days, pairs = (table.value for table in app.dataframe[:2])
    assert days["pnl"].tolist() == [-5.0, 30.0]  # newest day first
    assert pairs.set_index("pair")["worst"].to_dict() == {"BTC/USDT": -10.0, "ETH/USDT": 5.0}
    bars = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    assert bars["type"] == "bar" and plotly_values(bars["y"]) == [-5.0, 30.0]


def test_a_paper_reset_is_marked_on_the_daily_chart(volt_home, store):
    add_trades(store[1], [("BTC/USDT", DAY, 30.0, 1.0)])
    add_reset(store[1], DAY + timedelta(hours=1), 10_000.0)

    app = open_page(PAGE)

    layout = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    assert [shape["line"]["dash"] for shape in layout["shapes"]] == ["dash"]
    assert "paper reset" in [note["text"] for note in layout["annotations"]]


def test_the_reset_button_waits_for_the_typed_word(volt_home, store):
    app = open_page(PAGE)
    assert app.button(key="reset_paper").disabled

    app.text_input(key="reset_confirm_text").input("reset").run()
    assert app.button(key="reset_paper").disabled

    app.text_input(key="reset_confirm_text").input("RESET").run()
    app.button(key="reset_paper").click().run()

    [command] = reset_commands(store[1])
    assert command.payload == {"typed": "RESET"}
    assert any("Paper account reset (command #" in i.value for i in app.info)


def test_no_reset_while_trading_runs(volt_home, store):
    update_state(store[1], worker_pid=12345, status="running")

    app = open_page(PAGE)

    assert any("stop it on the Control page" in w.value for w in app.warning)
    assert app.text_input(key="reset_confirm_text").disabled
    assert app.button(key="reset_paper").disabled
    assert reset_commands(store[1]) == []


def test_profit_can_be_counted_since_the_last_paper_reset(volt_home, store):
    add_trades(
        store[1], [("BTC/USDT", DAY, 30.0, 1.0), ("ETH/USDT", DAY + timedelta(days=2), -4.0, 0.5)]
    )
    add_reset(store[1], DAY + timedelta(days=1), 10_000.0)
    app = open_page(PAGE)
    assert {m.label: m.value for m in app.metric}["Closed trades"] == "2"

    app.toggle(key="since_reset").set_value(True).run()

    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Closed trades"], metrics["Realised P&L (USDT)"]) == ("1", "-4.00")
    assert app.dataframe[1].value["pair"].tolist() == ["ETH/USDT"]
