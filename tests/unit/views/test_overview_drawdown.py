"""The Overview's equity curve: the whole history, its drawdown underneath, resets marked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.pages import open_page, plotly_values
from tests.support.performance import add_equity, add_reset

START = datetime(2026, 3, 2, tzinfo=UTC)


def test_the_drawdown_from_the_running_peak_is_charted_under_the_equity(volt_home, store):
    add_equity(
        store[1],
        [(START + timedelta(minutes=i), e) for i, e in enumerate([10_000.0, 12_000.0, 9_000.0])],
    )

    app = open_page("views/overview.py")

    equity, drawdown = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    assert plotly_values(equity["y"]) == [10_000.0, 12_000.0, 9_000.0]
    assert plotly_values(drawdown["y"]) == pytest.approx([0.0, 0.0, -25.0])  # in %
    assert drawdown["yaxis"] == "y2"  # its own chart, under the equity


def test_a_paper_reset_is_a_dashed_line_on_the_equity_curve(volt_home, store):
    add_equity(store[1], [(START, 10_000.0), (START + timedelta(minutes=1), 8_000.0)])
    add_reset(store[1], START + timedelta(minutes=2), 10_000.0)
    add_equity(store[1], [(START + timedelta(minutes=2), 10_000.0)])

    app = open_page("views/overview.py")

    layout = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    assert "dash" in [shape["line"].get("dash") for shape in layout["shapes"]]
    assert "paper reset" in [note["text"] for note in layout["annotations"]]
