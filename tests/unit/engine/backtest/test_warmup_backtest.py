"""A backtest decides nothing before every window the team reads is warm: its first decided
row is the first warm one, and the command line says when that was."""

from datetime import UTC, datetime

import numpy as np
import pytest

from config import Settings
from engine.backtest.candles import CandleDataError, synthetic_market
from engine.backtest.runner import run_backtest, team_warmup_of, warm_market
from tests.support.runs import run_engine

WARMUP = 241  # the default team on its 300-candle window (tests/unit/agents/test_warmup.py)


def market_from_row_zero(settings: Settings):
    """The synthetic market from its very first candle: no history before the span."""
    return synthetic_market(42, list(settings.market.pairs), "5m", None, None, 300)


def test_the_first_decided_row_is_the_first_warm_one():
    settings = Settings()
    market = market_from_row_zero(settings)
    assert market.first == 0
    assert team_warmup_of(settings) == WARMUP
    assert warm_market(settings, market).first == WARMUP - 1


def test_no_trade_enters_before_the_warm_row_though_cold_rows_signal():
    settings = Settings()
    result = run_backtest(settings, market_from_row_zero(settings))  # not warmed by the caller
    assert result.rows[0] == WARMUP - 1
    cold_buys = sum(int((s.action[: WARMUP - 1] == 1).sum()) for s in result.signals.values())
    assert cold_buys > 0  # the cold rows would have traded
    assert (result.trades["entry_row"] >= WARMUP - 1).all()
    # The equity curve starts the moment before the first decision.
    assert result.equity.index[1] == result.market.index[WARMUP - 1] + np.timedelta64(5, "m")


def test_a_span_shorter_than_the_warm_up_is_refused():
    settings = Settings()
    end = datetime(2026, 1, 1, 10, tzinfo=UTC)  # 120 candles
    short = synthetic_market(42, ["BTC/USDT"], "5m", None, end, 300)
    with pytest.raises(CandleDataError, match="120 candles, but the team needs 241"):
        warm_market(settings, short)


def test_the_command_line_prints_the_first_decisions_time(volt_home):
    done = run_engine(
        "backtest", "--synthetic", "42", "--to", "2026-01-03", "--no-store", "--draws", "0",
        VOLT_HOME=str(volt_home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # 240 candles of 5 minutes after 2026-01-01 00:00: the 241st closes at 20:05.
    assert (
        "volt: first decision 2026-01-01 20:05 UTC, after 241 candles of warm-up "
        "(the team's longest window needs 241)"
    ) in out
    assert "decisions 2026-01-01 20:05 to" in out
