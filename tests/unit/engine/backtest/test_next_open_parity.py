"""At next-open fills the live loop and the backtest still make the same trades at the same
prices: the paper Trader replaying stored candles whose opens are not the last closes
(each decision filling at the open of the candle forming when it acts) and a backtest of
the same candles (each decision on row i filling at open[i + 1])."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from backtesting import Strategy
from backtesting.lib import FractionalBacktest
from sqlalchemy import func, select

from agents.regime import RegimeLimits
from agents.rsi_rule import RsiRule
from config import load_config
from data import queries
from data.candles.store import CandleStore
from data.store.db import as_utc
from data.store.models import ProtectionLock, Rejection
from engine.backtest.candles import Market, store_market
from engine.backtest.runner import FILL_MODEL_NOTES, Prepared, evaluate, prepare
from engine.backtest.signals import team_votes
from engine.backtest.sizing import FixedAmount
from engine.trading import book
from engine.venues.synthetic import SYNTHETIC_EPOCH
from tests.support.configs import DEFAULT_RISK
from tests.support.gapped import gapped_synthetic, store_gapped
from tests.support.runs import START, run_ticks

TICKS = 300  # one tick per 5-minute candle
STEP = timedelta(minutes=5)
# The team and risk of the close-fill parity tests (two pairs, the technical agent alone,
# learning frozen, the default protections, every regime reachable), on a replay.
CONFIG = (
    """
[market]
pairs = ["BTC/USDT", "ETH/USDT"]
history_candles = 120
[feed]
kind = "replay"
[broker]
fill_at = "next_open"
[agents.weights]
technical = 1.0
regime = 0.0
sentiment = 0.0
[agents.learning]
freeze = true
"""
    + DEFAULT_RISK
)


@pytest.fixture
def replayed(trader_factory, store, volt_home, tmp_path):
    """The live Trader over the stored candles, then a backtest of the same span. The store
    holds one candle past the last decision, so that decision fills in both."""
    last_decision = START + STEP * (TICKS - 1)
    frames = store_gapped(
        CandleStore(volt_home / "candles"), 11, ["BTC/USDT", "ETH/USDT"],
        last_decision + STEP, 400 + TICKS,
    )  # fmt: skip
    path = tmp_path / "next-open.toml"
    path.write_text(CONFIG)
    trader, clock = trader_factory(path)
    run_ticks(trader, clock, market_hours=TICKS * 300 / 3600)
    settings = load_config(path)
    market = store_market(
        "binance", list(settings.market.pairs), "5m", START, last_decision + STEP, 120
    )
    result = evaluate(prepare(settings, market), rows=(market.first, len(market.index) - 1))
    return trader, result, frames


def test_live_paper_trades_match_the_backtest_at_next_open_prices(replayed, store):
    trader, result, frames = replayed
    live = queries.trades(store[0]).sort_values(["exit_ts", "pair"]).reset_index(drop=True)
    backtest = result.trades.sort_values(["exit_ts", "pair"]).reset_index(drop=True)
    assert len(live) >= 5
    assert set(live["exit_reason"]) >= {"stop_loss", "take_profit", "signal"}
    keys = ["pair", "entry_ts", "exit_ts", "exit_reason"]
    pd.testing.assert_frame_equal(live[keys], backtest[keys], check_dtype=False)
    for column in ("entry_price", "exit_price", "amount", "pnl"):
        np.testing.assert_allclose(backtest[column], live[column], rtol=1e-9, atol=1e-6)
    with store[1]() as session:
        equity = book.portfolio_view(session, trader.broker, trader.marks).equity
        refused = session.scalar(select(func.count(Rejection.id)).where(Rejection.source == "risk"))
        locks = session.execute(
            select(ProtectionLock.protection, ProtectionLock.pair, ProtectionLock.ts,
                   ProtectionLock.until)
            .where(ProtectionLock.until.is_not(None))
        ).all()  # fmt: skip
    assert result.stats["final_equity"] == pytest.approx(equity, rel=1e-9)
    assert result.simulation.rejections == refused
    assert sorted(result.simulation.locks) == sorted(
        (p, q, as_utc(ts), as_utc(until)) for p, q, ts, until in locks
    )
    assert FILL_MODEL_NOTES["next_open"] in result.notes


def test_every_entry_filled_at_the_next_open_not_the_decisions_close(replayed):
    _, result, frames = replayed
    slip = load_config(None).broker.slippage_rate
    signal_exits = 0
    for trade in result.trades.itertuples():
        candles = frames[trade.pair]
        decided = candles.index.get_loc(trade.entry_ts - STEP)  # the candle closing then
        next_open, close = candles["open"].iat[decided + 1], candles["close"].iat[decided]
        assert trade.entry_price == pytest.approx(next_open * (1 + slip), rel=1e-12)
        assert abs(next_open / close - 1) > 1e-6, "this market's opens are off the closes"
        if trade.exit_reason == "signal":
            signal_exits += 1
            exited = candles.index.get_loc(trade.exit_ts - STEP)
            expected = candles["open"].iat[exited + 1] * (1 - slip)
            assert trade.exit_price == pytest.approx(expected, rel=1e-12)
    assert signal_exits > 0


def test_rsi_rule_matches_backtesting_py_trading_on_the_next_open():
    """backtesting.py's default (trade_on_close=False) fills an order placed on bar i at bar
    i + 1's open: its EntryBar is our decision row + 1, its prices ours, on candles whose
    opens are off the closes. A fixed 0.1 BTC a trade (sized alike whatever the price);
    no slippage, since backtesting.py has none on exits."""
    candles = gapped_synthetic(11, "BTC/USDT", SYNTHETIC_EPOCH + STEP * 5000, 5000)
    settings = load_config(None)
    assert settings.broker.fill_at == "next_open"  # the default
    broker = settings.broker.model_copy(update={"slippage_rate": 0.0})
    settings = settings.model_copy(update={"broker": broker})
    fee, units, fraction = settings.broker.fee_rate, 0.1, 1e-8
    market = Market(["BTC/USDT"], {"BTC/USDT": candles}, 300, 0, "gapped")
    votes = team_votes(candles, [RsiRule()], RegimeLimits(), len(candles))
    ours = evaluate(
        Prepared(settings, market, {"BTC/USDT": votes}, []),
        {"rsi_rule": 1.0},
        gate=FixedAmount(units),
    )
    rsi = votes.frame["rsi"].to_numpy()

    class RsiStrategy(Strategy):
        def init(self):
            self.rsi = self.I(lambda: rsi, name="rsi", overlay=False)

        def next(self):
            if not self.position and self.rsi[-1] < 30:
                self.buy(size=round(units / fraction))
            elif self.position and self.rsi[-1] > 70:
                self.position.close()

    data = candles.rename(columns=str.capitalize)
    data.index = data.index.tz_localize(None)
    theirs = FractionalBacktest(
        data, RsiStrategy, cash=1e9, commission=fee, fractional_unit=fraction
    ).run()
    trades = theirs["_trades"]
    closed = trades.dropna(subset=["ExitBar"]).iloc[: len(ours.trades)]
    assert len(ours.trades) >= 10
    assert list(ours.trades["entry_row"] + 1) == list(closed["EntryBar"])
    assert list(ours.trades["exit_row"] + 1) == list(closed["ExitBar"])
    np.testing.assert_allclose(ours.trades["entry_price"], closed["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["exit_price"], closed["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["pnl"], closed["PnL"], rtol=1e-9)
    assert not np.allclose(
        ours.trades["entry_price"], candles["close"].iloc[ours.trades["entry_row"]]
    )
