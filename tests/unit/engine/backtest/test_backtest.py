"""Backtest input, command line, stored runs and replayed LLM replies."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import select

from agents.llm.prompt import PROMPT_VERSION
from config import load_config
from data.store.db import make_engine, make_session_factory, transaction
from data.store.models import BacktestRun, BacktestTrade, Decision, Event, VoteRow
from engine.backtest import CandleDataError, load_csv, run_backtest, synthetic_market
from engine.backtest.runner import TRADE_COLUMNS, _trades_frame
from tests.support.runs import run_engine

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = [
    "2026-01-01T00:00:00Z,100,101,99,100.5,10",
    "2026-01-01T00:05:00Z,100.5,102,100,101,12",
    "2026-01-01T00:10:00Z,101,101.5,100.2,100.8,9",
]


def write(tmp_path, rows: list[str]):
    path = tmp_path / "candles.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_a_good_csv_loads_with_utc_times(tmp_path):
    candles = load_csv(write(tmp_path, GOOD))
    assert list(candles.columns) == ["open", "high", "low", "close", "volume"]
    assert candles.index[1] == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


def test_epoch_milliseconds_are_understood(tmp_path):
    rows = [f"{1767225600000 + i * 300_000},1,1,1,1,1" for i in range(3)]
    assert load_csv(write(tmp_path, rows)).index[0] == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("bad_row", "line", "says"),
    [
        ("2026-01-01T00:05:00Z,100,101,99,abc,10", 3, "close is 'abc', not a number"),
        ("2026-01-01T00:05:00Z,100,99,101,100,10", 3, "high 99 is below low 101"),
        ("2026-01-01T00:00:00Z,100,101,99,100,10", 3, "duplicate timestamp"),
        ("2026-01-01T00:20:00Z,100,101,99,100,10", 3, "gap: 2026-01-01 00:20:00+00:00 follows"),
        ("yesterday,100,101,99,100,10", 3, "timestamp 'yesterday' is not a date"),
        ("2026-01-01T00:05:00Z,100,101,99,100,", 3, "volume is "),
    ],
)
def test_a_bad_row_is_named_with_its_line_and_fault(tmp_path, bad_row, line, says):
    rows = [GOOD[0], bad_row, "2026-01-01T00:30:00Z,100,101,99,100,10"]
    if "gap" in says:
        rows = [GOOD[0], GOOD[1], bad_row]
        line = 4
    with pytest.raises(CandleDataError) as caught:
        load_csv(write(tmp_path, rows))
    assert f"line {line}: " in str(caught.value)
    assert says in str(caught.value)


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("timestamp,open,high,low,close\n2026-01-01T00:00:00Z,1,1,1,1\n")
    with pytest.raises(CandleDataError, match="missing column.*volume"):
        load_csv(path)


def test_cli_backtest_prints_the_statistics_and_stores_the_run(volt_home):
    done = run_engine(
        "backtest", "--synthetic", "5", "--pairs", "BTC/USDT", "ETH/USDT",
        "--from", "2026-02-01", "--to", "2026-02-08", "--label", "a week",
        VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for figure in ("Return [%]", "Sharpe ratio", "Sortino ratio", "Max drawdown [%]",
                   "Win rate [%]", "Profit factor", "Exposure time [%]", "Fees paid",
                   "Buy & hold [%]", "LLM: abstained"):  # fmt: skip
        assert figure in done.stdout
    assert "backtest 100%" in done.stderr
    engine = make_engine()
    with make_session_factory(engine)() as session:
        run = session.scalars(select(BacktestRun)).one()
        trades = session.scalars(select(BacktestTrade)).all()
    assert (run.status, run.label, run.pairs) == ("done", "a week", ["BTC/USDT", "ETH/USDT"])
    assert run.stats["trades"] == len(trades) > 0
    assert len(run.curve["equity"]) == len(run.curve["buy_and_hold"]) > 100


def test_cli_names_the_bad_csv_row_and_records_an_event(volt_home, tmp_path):
    path = write(tmp_path, [GOOD[0], "2026-01-01T00:05:00Z,100,99,101,100,10"])
    done = run_engine(
        "backtest", "--data", str(path), "--pairs", "BTC/USDT", VOLT_HOME=str(volt_home)
    )
    assert done.returncode == 2
    assert "line 3: high 99 is below low 101" in done.stderr
    with make_session_factory(make_engine())() as session:
        event = session.scalars(select(Event).where(Event.kind == "backtest")).one()
    assert "line 3" in event.message and "CandleDataError" in event.traceback


def test_stored_llm_replies_are_replayed_and_the_result_says_so(store, tmp_path):
    config = tmp_path / "llm.toml"
    config.write_text("[agents.weights]\nllm = 1.0\n")
    settings = load_config(config)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    market = synthetic_market(1, ["BTC/USDT"], "5m", start, start + timedelta(hours=6), 300)
    assert run_backtest(settings, market, store=store[0]).llm_note == "LLM: abstained"
    with transaction(store[1]) as session:
        for i, action in enumerate(["BUY", "SELL", "HOLD"]):
            decision = Decision(
                ts=start, pair="BTC/USDT", candle_ts=market.index[market.first + i].to_pydatetime(),
                price=1.0, action="HOLD", score=0.0, threshold=0.55,
            )  # fmt: skip
            session.add(decision)
            session.flush()
            session.add(
                VoteRow(
                    decision_id=decision.id,
                    agent="llm",
                    action=action,
                    confidence=0.9,
                    weight=1.0,
                    source="llm",
                    rationale="stored",
                    data={"model": settings.agents.llm.model, "prompt_version": PROMPT_VERSION},
                )  # fmt: skip
            )
    result = run_backtest(settings, market, store=store[0])
    assert result.llm_note == "LLM: replayed 3 stored votes"
    assert result.signals["BTC/USDT"].votes["llm"][market.first] == pytest.approx(0.9)
    assert result.signals["BTC/USDT"].votes["llm"][market.first + 1] == pytest.approx(-0.9)


def test_walk_forward_tunes_on_one_window_and_reports_the_next():
    from engine.backtest.walk_forward import walk_forward

    settings = load_config(None)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    market = synthetic_market(2, ["BTC/USDT"], "5m", start, start + timedelta(days=4), 300)
    folds = walk_forward(settings, market, folds=2)
    assert len(folds) == 2
    assert folds[0].test == folds[1].train  # each fold is judged on the window after its own
    for fold in folds:
        assert any(fold.weights[a] > 0 for a in ("technical", "regime", "sentiment"))
        assert {"return_pct", "sharpe", "trades"} <= set(fold.test_stats)


def test_a_backtest_without_trades_has_the_empty_trades_frame():
    frame = _trades_frame(SimpleNamespace(trades=[]), None, pd.DatetimeIndex([], tz="UTC"))
    assert frame.empty and list(frame.columns) == TRADE_COLUMNS
    assert all(dtype.kind == "O" for dtype in frame.dtypes)
