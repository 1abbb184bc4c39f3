"""The backtester decides and trades as the live loop does, and as backtesting.py does on the
same rule: same trades (entry and exit candle, exit reason), same P&L."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from backtesting import Strategy
from backtesting.lib import FractionalBacktest
from sqlalchemy import func, select

from agents.regime import REGIMES, RegimeLimits, classify
from agents.rsi_rule import RsiRule
from config import load_config
from data import queries
from data.market.indicators import add_indicators, add_indicators_over_windows
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods
from data.store.db import as_utc
from data.store.models import ProtectionLock, Rejection
from engine.backtest import load_csv, run_backtest, synthetic_market
from engine.backtest.candles import Market
from engine.backtest.runner import Prepared, evaluate
from engine.backtest.signals import team_votes
from engine.backtest.sizing import CashShareSizing
from engine.trading import book
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed
from tests.support.configs import DEFAULT_RISK
from tests.support.runs import START, run_ticks

# Two pairs, a 120-candle window, learning frozen (a backtest keeps the weights as
# configured; live would adapt them). The technical agent alone trades often enough; the
# regime agent's windowed averages are pinned below on their own. Wilder regimes are made
# commoner and as easy to act in, so entries under every regime's scaled stops occur.
TEAM = """
[market]
pairs = ["BTC/USDT", "ETH/USDT"]
history_candles = 120
[feed]
seed = 11
[agents.weights]
technical = 1.0
regime = 0.0
sentiment = 0.0
[agents.learning]
freeze = true
[broker]
fill_at = "close"
"""
# A trailing stop and protections tight enough to fire often: one entry an hour, two
# losses in a row, a 0.3% drawdown (reached while a position is held, its pause ending
# within the span so the peak is measured afresh).
TIGHT_RISK = """
[risk]
trailing_stop_atr_multiple = 1.0
take_profit_atr_multiple = 8.0
[risk.protections]
max_trades_per_hour = 1
losing_streak = 2
losing_streak_cooldown_minutes = 30
max_drawdown = 0.003
drawdown_pause_hours = 1.0
stop_out_cooldown_minutes = 0
"""
TICKS = 300  # one tick per 5-minute candle
# Every configurable length off its default, short enough to warm inside the 120 candles.
OTHER_PERIODS = IndicatorPeriods(rsi=9, bollinger=30, trend_fast=20, trend_slow=90, momentum=6)
OTHER_INDICATORS = """
[indicators]
rsi_period = 9
bollinger_period = 30
trend_fast_span = 20
trend_slow_span = 90
momentum_window = 6
"""


def _live_and_backtest(trader_factory, store, path):
    """The live Trader on the synthetic feed, then a backtest of the same span."""
    trader, clock = trader_factory(path)
    run_ticks(trader, clock, market_hours=TICKS * 300 / 3600)
    live = queries.trades(store[0])
    with store[1]() as session:
        live_equity = book.portfolio_view(session, trader.broker, trader.marks).equity
        locks = session.execute(
            select(ProtectionLock.protection, ProtectionLock.pair, ProtectionLock.ts,
                   ProtectionLock.until)
            .where(ProtectionLock.until.is_not(None))
        ).all()  # fmt: skip
    live_locks = sorted((p, q, as_utc(ts), as_utc(until)) for p, q, ts, until in locks)
    settings = load_config(path)
    last_decision = START + timedelta(seconds=300 * (TICKS - 1))
    market = synthetic_market(
        settings.feed.seed, list(settings.market.pairs), "5m", START, last_decision, 120
    )
    result = run_backtest(settings, market)

    keys = ["pair", "entry_ts", "exit_ts", "exit_reason"]
    live = live.sort_values(["exit_ts", "pair"]).reset_index(drop=True)
    backtest = result.trades.sort_values(["exit_ts", "pair"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(live[keys], backtest[keys], check_dtype=False)
    np.testing.assert_allclose(backtest["pnl"], live["pnl"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(backtest["amount"], live["amount"], rtol=1e-9)
    assert result.stats["final_equity"] == pytest.approx(live_equity, rel=1e-9)
    # Every lock a protection started live, started in the backtest at the same candle.
    assert sorted(result.simulation.locks) == live_locks
    with store[1]() as session:
        refused = session.scalar(select(func.count(Rejection.id)).where(Rejection.source == "risk"))
    assert result.simulation.rejections == refused
    assert result.llm_note.startswith("LLM: abstained")
    return live, result


def test_backtest_makes_the_live_traders_trades_to_the_cent(trader_factory, store, tmp_path):
    """Default risk: stops and take-profits nearer in wild regimes, default protections."""
    path = tmp_path / "parity.toml"
    path.write_text(TEAM + DEFAULT_RISK)
    live, result = _live_and_backtest(trader_factory, store, path)
    assert len(live) >= 5
    assert set(live["exit_reason"]) >= {"stop_loss", "take_profit", "signal"}
    regimes = {
        REGIMES[result.signals[t.pair].regime[t.entry_row]] for t in result.trades.itertuples()
    }
    assert regimes == set(REGIMES), "entries under every regime's stop scale"
    assert result.simulation.blocked.get("stop_out_cooldown", 0) > 0


def test_backtest_makes_the_live_traders_trades_with_other_indicator_periods(
    trader_factory, store, tmp_path
):
    """Configured lengths reach the live Trader and the backtest alike: the whole team
    votes (the regime on its own trend spans, sentiment on its own momentum), and the
    lengths do change what it trades."""
    path = tmp_path / "periods.toml"
    team = TEAM.replace("regime = 0.0", "regime = 0.1").replace(
        "sentiment = 0.0", "sentiment = 0.3"
    )
    path.write_text(team + DEFAULT_RISK + OTHER_INDICATORS)
    live, result = _live_and_backtest(trader_factory, store, path)
    assert len(live) >= 5
    default_path = tmp_path / "default_periods.toml"
    default_path.write_text(team + DEFAULT_RISK)
    default = run_backtest(load_config(default_path), result.market)
    assert not default.trades[["entry_ts", "exit_ts"]].equals(
        result.trades[["entry_ts", "exit_ts"]]
    ), "the periods changed the decisions"


def test_backtest_trails_and_blocks_as_the_live_trader(trader_factory, store, tmp_path):
    """A trailing stop, and protections that block entries and pause for a drawdown."""
    path = tmp_path / "tight.toml"
    path.write_text(TEAM + TIGHT_RISK)
    live, result = _live_and_backtest(trader_factory, store, path)
    assert (live["exit_reason"] == "trailing_stop").sum() >= 3
    blocked = result.simulation.blocked
    assert blocked.get("max_trades_per_hour", 0) > 0
    assert blocked.get("losing_streak", 0) > 0
    assert blocked.get("max_drawdown", 0) > 0
    started = [lock[0] for lock in result.simulation.locks]
    assert started.count("max_drawdown") >= 2  # a second pause after the peak's reset
    fills = set(result.trades["entry_ts"]) | set(result.trades["exit_ts"])
    assert any(ts not in fills for name, _, ts, _ in result.simulation.locks), (
        "a drawdown reached between fills, while a position was held"
    )


@pytest.mark.parametrize("periods", [DEFAULT_PERIODS, OTHER_PERIODS], ids=["default", "other"])
@pytest.mark.parametrize("window", [60, 120, 300])
def test_indicators_over_windows_equal_the_live_windows_last_row(window, periods):
    candles = SyntheticFeed(7, "5m").candles(
        "ETH/USDT", SYNTHETIC_EPOCH + timedelta(minutes=5 * 900), 900
    )
    every_row = add_indicators_over_windows(candles, window, periods)
    for row in [3, 8, 9, 13, 14, 29, 40, window - 1, window, window + 17, 899]:
        trailing = candles.iloc[max(0, row - window + 1) : row + 1]
        live = add_indicators(trailing, periods).iloc[-1]
        ours = every_row.iloc[row][live.index]
        # %B near 0 is a difference of two close prices over the band's width: the bands'
        # rounding (a rolling sum over 900 rows or over the window) shows there, ~1e-12.
        prices = live.index.drop("bb_pct")
        np.testing.assert_allclose(
            ours[prices], live[prices], rtol=1e-9, atol=1e-12, err_msg=f"row {row}"
        )
        assert ours["bb_pct"] == pytest.approx(live["bb_pct"], rel=1e-9, abs=1e-10, nan_ok=True)


@pytest.mark.parametrize("periods", [DEFAULT_PERIODS, OTHER_PERIODS], ids=["default", "other"])
@pytest.mark.parametrize("window", [60, 300])
def test_regime_over_windows_equals_the_live_windows_last_row(window, periods):
    candles = SyntheticFeed(3, "5m").candles(
        "BTC/USDT", SYNTHETIC_EPOCH + timedelta(minutes=5 * 900), 900
    )
    limits = RegimeLimits()
    frame = add_indicators_over_windows(candles, window, periods)
    every_row = classify(frame, limits, window, periods)
    for row in [30, 100, window - 1, window + 5, 640, 899]:
        trailing = add_indicators(candles.iloc[max(0, row - window + 1) : row + 1], periods)
        live = classify(trailing, limits, periods=periods).iloc[-1]
        ours = every_row.iloc[row][live.index]
        np.testing.assert_allclose(ours, live, rtol=1e-9, atol=1e-12, err_msg=f"row {row}")


def test_rsi_rule_matches_backtesting_py_trade_for_trade(tmp_path):
    """Same data (a pinned CSV), same RSI values, same 0.1% fee, trades on the close.
    backtesting.py charges its spread only on entry while VOLT slips both fills, so both
    run without slippage here; sizes are the same 99% of cash."""
    candles = SyntheticFeed(11, "5m").candles(
        "BTC/USDT", SYNTHETIC_EPOCH + timedelta(minutes=5 * 5000), 5000
    )
    path = tmp_path / "btc.csv"
    candles.rename_axis("timestamp").reset_index().to_csv(path, index=False)
    candles = load_csv(path)
    settings = load_config(None)
    fee, share = settings.broker.fee_rate, 0.99
    settings = settings.model_copy(
        update={
            "broker": settings.broker.model_copy(update={"slippage_rate": 0.0, "fill_at": "close"})
        }
    )
    market = Market(["BTC/USDT"], {"BTC/USDT": candles}, 300, 0, "csv")
    votes = team_votes(candles, [RsiRule()], RegimeLimits(), len(candles))
    prepared = Prepared(settings, market, {"BTC/USDT": votes}, [])
    ours = evaluate(prepared, {"rsi_rule": 1.0}, gate=CashShareSizing(share, fee, 0.0))
    rsi = votes.frame["rsi"].to_numpy()

    class RsiStrategy(Strategy):
        def init(self):
            self.rsi = self.I(lambda: rsi, name="rsi", overlay=False)

        def next(self):
            if not self.position and self.rsi[-1] < 30:
                self.buy(size=share)
            elif self.position and self.rsi[-1] > 70:
                self.position.close()

    data = candles.rename(columns=str.capitalize)
    data.index = data.index.tz_localize(None)
    theirs = FractionalBacktest(
        data, RsiStrategy, cash=10_000, commission=fee, trade_on_close=True
    ).run()
    trades = theirs["_trades"]
    assert len(trades) >= 10
    assert list(ours.trades["entry_row"]) == list(trades["EntryBar"])
    assert list(ours.trades["exit_row"]) == list(trades["ExitBar"])
    np.testing.assert_allclose(ours.trades["pnl"], trades["PnL"], rtol=1e-3)
    assert ours.trades["pnl"].sum() == pytest.approx(trades["PnL"].sum(), rel=1e-3)
    assert ours.stats["final_equity"] == pytest.approx(theirs["Equity Final [$]"], rel=1e-3)
