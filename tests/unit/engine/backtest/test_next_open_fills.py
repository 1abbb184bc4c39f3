"""Backtest fills a real exchange would give: a decision on a candle's close fills at the next
candle's open (slippage and fee on top) by default, at that close with broker.fill_at =
"close"; stops and take-profits keep their intrabar prices; a candle that touches both is
counted; every run says which fill model it ran."""

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from agents.regime import RegimeLimits
from config import load_config
from data.store.db import make_engine, make_session_factory
from data.store.models import BacktestRun
from engine.backtest.candles import Market, synthetic_market
from engine.backtest.export import export_run
from engine.backtest.report import build_report
from engine.backtest.runner import FILL_MODEL_NOTES, Prepared, evaluate, run_backtest
from engine.backtest.signals import TeamVotes, team_votes
from engine.backtest.sizing import Sized
from risk import OrderIntent
from tests.support.runs import run_engine

SETTINGS = load_config(None)
FEE, SLIP = SETTINGS.broker.fee_rate, SETTINGS.broker.slippage_rate
PAIR = "BTC/USDT"
LEAD = 20  # flat candles before each hand-built series, for the indicators' windows
# (open, high, low, close) of candles LEAD + 0, 1, ...: every open is off the close before.
QUIET = [
    (100.0, 100.5, 99.5, 100.0),
    (100.2, 100.8, 99.9, 100.4),
    (100.6, 101.0, 100.1, 100.5),  # 2: buy decided on this close
    (100.9, 101.5, 100.7, 101.2),  # 3: ... filled at this open
    (101.0, 101.8, 100.8, 101.6),
    (101.9, 102.2, 101.3, 101.5),  # 5: sell decided on this close
    (101.1, 101.4, 100.6, 100.9),  # 6: ... filled at this open
    (100.7, 101.0, 100.2, 100.8),
]


@dataclass
class Levels:
    """A test gate: one unit a trade, its stop and take-profit these distances from the
    price it is asked to approve at (which it records)."""

    stop_below: float = math.inf
    target_above: float = math.inf
    prices: list[float] = field(default_factory=list)

    def approve(self, intent: OrderIntent, book) -> Sized:
        self.prices.append(intent.price)
        return Sized(1.0, intent.price - self.stop_below, intent.price + self.target_above)


def backtest(rows, signals, gate=None, fill_at="next_open", span=None):
    """A backtest of hand-built candles on which one stored-votes agent says buy (+1) or
    sell (-1) at the given rows (numbered from LEAD, the first hand-built candle)."""
    rows = [(100.0, 100.0, 100.0, 100.0)] * LEAD + list(rows)
    open_, high, low, close = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    index = pd.date_range("2026-01-01", periods=len(rows), freq="5min", tz="UTC", name="ts")
    candles = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index
    )
    direction = np.zeros(len(rows))
    for row, side in signals.items():
        direction[LEAD + row] = side
    votes = team_votes(candles, [], RegimeLimits(), 300)
    votes = TeamVotes(votes.frame, {"s": direction}, {"s": np.ones(len(rows))}, votes.regime_code)
    broker = SETTINGS.broker.model_copy(update={"fill_at": fill_at})
    settings = SETTINGS.model_copy(update={"broker": broker})
    market = Market([PAIR], {PAIR: candles}, 300, LEAD, "hand-built")
    prepared = Prepared(settings, market, {PAIR: votes}, [])
    span = span and (LEAD + span[0], LEAD + span[1])
    return evaluate(prepared, {"s": 1.0}, rows=span, gate=gate or Levels())


def test_an_entry_decided_on_a_close_fills_at_the_next_open_plus_slippage_and_fee():
    gate = Levels()
    trade = backtest(QUIET, {2: 1, 5: -1}, gate).trades.iloc[0]
    assert gate.prices == [100.9]  # approved, sized and given its stops at that open
    assert trade.entry_price == pytest.approx(100.9 * (1 + SLIP), rel=1e-12)
    assert trade.entry_row == LEAD + 2
    opened = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=5 * (LEAD + 3))
    assert trade.entry_ts == opened  # the fill's time: the decision's close, row 3's open
    fees = trade.entry_price * FEE + trade.exit_price * FEE
    assert trade.fees == pytest.approx(fees, rel=1e-12)


def test_a_signal_exit_fills_at_the_next_open_less_slippage():
    trade = backtest(QUIET, {2: 1, 5: -1}).trades.iloc[0]
    assert (trade.exit_row, trade.exit_reason) == (LEAD + 5, "signal")
    assert trade.exit_price == pytest.approx(101.1 * (1 - SLIP), rel=1e-12)
    expected = (101.1 * (1 - SLIP) * (1 - FEE)) - 100.9 * (1 + SLIP) * (1 + FEE)
    assert trade.pnl == pytest.approx(expected, rel=1e-9)


def test_fill_at_close_fills_at_the_decisions_close():
    gate = Levels()
    result = backtest(QUIET, {2: 1, 5: -1}, gate, fill_at="close")
    trade = result.trades.iloc[0]
    assert gate.prices == [100.5]
    assert trade.entry_price == pytest.approx(100.5 * (1 + SLIP), rel=1e-12)
    assert trade.exit_price == pytest.approx(101.5 * (1 - SLIP), rel=1e-12)
    assert FILL_MODEL_NOTES["close"] in result.notes


def test_a_decision_on_the_last_candle_does_not_fill_and_the_notes_say_so():
    result = backtest(QUIET, {7: 1})
    assert result.trades.empty and not result.simulation.open_positions
    assert result.simulation.unfilled == 1
    assert "1 decision on the last candle not filled: no next open" in result.notes


def test_a_windows_last_decision_fills_at_the_open_after_the_window():
    """A walk-forward window's last candle is not the market's: the next open exists."""
    result = backtest(QUIET, {5: 1}, span=(0, 6))
    assert result.simulation.open_positions[PAIR].entry_price == pytest.approx(
        101.1 * (1 + SLIP), rel=1e-12
    )
    assert result.simulation.unfilled == 0


def test_a_stop_fills_at_its_level_not_at_the_next_open():
    rows = [*QUIET[:4], (101.0, 101.3, 99.5, 99.8), *QUIET[5:]]  # 4: through the stop
    trade = backtest(rows, {2: 1}, Levels(stop_below=1.0, target_above=5.0)).trades.iloc[0]
    assert (trade.exit_row, trade.exit_reason) == (LEAD + 4, "stop_loss")
    assert trade.exit_price == pytest.approx((100.9 - 1.0) * (1 - SLIP), rel=1e-12)


def test_a_candle_gapping_through_the_stop_fills_at_its_open():
    rows = [*QUIET[:4], (99.0, 99.6, 98.7, 99.4), *QUIET[5:]]  # 4 opens under the stop 99.9
    trade = backtest(rows, {2: 1}, Levels(stop_below=1.0, target_above=5.0)).trades.iloc[0]
    assert trade.exit_price == pytest.approx(99.0 * (1 - SLIP), rel=1e-12)


def test_a_take_profit_fills_at_its_level():
    rows = [*QUIET[:4], (101.0, 103.0, 100.8, 102.5), *QUIET[5:]]  # 4: above 100.9 + 1.5
    trade = backtest(rows, {2: 1}, Levels(stop_below=1.0, target_above=1.5)).trades.iloc[0]
    assert (trade.exit_row, trade.exit_reason) == (LEAD + 4, "take_profit")
    assert trade.exit_price == pytest.approx(102.4 * (1 - SLIP), rel=1e-12)


def test_a_candle_touching_both_stop_and_target_exits_at_the_stop_and_is_counted():
    # Trade one: candle 4 spans the stop (99.9) and the target (102.4). Trade two, entered
    # on row 5's decision at 101.1, reaches only its target (102.6) on candle 7.
    rows = [
        *QUIET[:4],
        (101.0, 102.6, 99.7, 101.5),
        (101.6, 101.9, 101.2, 101.7),
        (101.1, 101.5, 100.9, 101.3),
        (101.4, 102.8, 101.2, 102.7),
        (102.6, 102.9, 102.3, 102.5),
    ]
    result = backtest(rows, {2: 1, 5: 1}, Levels(stop_below=1.0, target_above=1.5))
    reasons = list(result.trades["exit_reason"])
    assert reasons == ["stop_loss", "take_profit"]
    assert result.trades["exit_price"].iloc[0] == pytest.approx(99.9 * (1 - SLIP), rel=1e-12)
    assert result.simulation.both_touched == 1
    assert result.stats["both_touched_candles"] == 1
    assert "stop and take-profit both touched on 1 candle (the stop taken)" in result.notes


def test_every_run_names_its_fill_model():
    market = synthetic_market(3, [PAIR], "5m", None, None, 300)
    for fill_at in ("next_open", "close"):
        broker = SETTINGS.broker.model_copy(update={"fill_at": fill_at})
        result = run_backtest(SETTINGS.model_copy(update={"broker": broker}), market)
        assert FILL_MODEL_NOTES[fill_at] in result.notes
        assert any(note.startswith("stop and take-profit both touched on") for note in result.notes)


def test_the_cli_prints_and_stores_the_fill_model(volt_home):
    done = run_engine(
        "backtest", "--synthetic", "5", "--pairs", PAIR, "--from", "2026-02-01",
        "--to", "2026-02-03", "--draws", "0", VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "fills: at the next candle's open (broker.fill_at = next_open)" in done.stdout
    assert "stop and take-profit both touched on" in done.stdout
    with make_session_factory(make_engine())() as session:
        run = session.scalars(select(BacktestRun)).one()
    assert FILL_MODEL_NOTES["next_open"] in run.llm  # the notes the Backtest page shows


def test_the_exported_report_page_names_the_fill_model(tmp_path):
    market = synthetic_market(3, [PAIR], "5m", None, None, 300)
    result = run_backtest(SETTINGS, market)
    export_run(tmp_path, result, build_report(result, draws=0), "a run")
    assert FILL_MODEL_NOTES["next_open"] in html.unescape((tmp_path / "report.html").read_text())
