"""Backtests of a strategy given as plain signal arrays, through the real pipeline (decide,
simulate, trades, statistics): one stored-votes agent says buy (+1), sell (-1) or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from agents.regime import RegimeLimits
from config import load_config
from engine.backtest.candles import Market
from engine.backtest.runner import BacktestResult, Prepared, evaluate
from engine.backtest.signals import StoredVotes, TeamVotes, team_votes
from engine.backtest.sizing import CashShareSizing

REAL_CANDLES = Path("/work/shared/data/candles")
PAIR = "BTC/USDT"


def random_walk(seed: int, n: int, step_minutes: int = 5) -> pd.DataFrame:
    """Candles of a driftless geometric random walk: no timing can beat chance on it."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0, 0.001, n))
    index = pd.date_range("2026-01-01", periods=n, freq=f"{step_minutes}min", tz="UTC")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick),
            "low": np.minimum(open_, close) * (1 - wick),
            "close": close,
            "volume": 1.0,
        },
        index=index,
    )


def real_series() -> dict[str, pd.DataFrame]:
    """The 5-minute Feather files in the shared candle folder, by file name (empty if absent)."""
    out = {}
    for path in sorted(REAL_CANDLES.glob("*-5m.feather")):
        frame = pd.read_feather(path).set_index("date")
        out[path.stem] = frame[["open", "high", "low", "close", "volume"]].astype(float)
    return out


class SignalBacktest:
    """Indicators once per series; then any number of signal arrays run on it."""

    def __init__(self, candles: pd.DataFrame) -> None:
        self.settings = load_config(None)
        self.candles = candles
        self.votes = team_votes(candles, [], RegimeLimits(), 300)
        step = int((candles.index[1] - candles.index[0]).total_seconds())
        self.market = Market([PAIR], {PAIR: candles}, step, 0, "signals")

    def run(self, direction: np.ndarray) -> BacktestResult:
        stored = StoredVotes("signal", direction.astype(float), np.ones(len(direction)))
        votes = TeamVotes(
            self.votes.frame,
            {"signal": stored.direction},
            {"signal": stored.confidence},
            self.votes.regime_code,
        )
        prepared = Prepared(self.settings, self.market, {PAIR: votes}, [])
        broker = self.settings.broker
        gate = CashShareSizing(0.99, broker.fee_rate, broker.slippage_rate)
        return evaluate(prepared, {"signal": 1.0}, gate=gate)


def random_signals(seed: int, n: int) -> np.ndarray:
    """No information: buy on 2 % of candles, sell on 4 %, at random."""
    draw = np.random.default_rng(seed).random(n)
    return np.where(draw < 0.02, 1, np.where(draw > 0.96, -1, 0))


def look_ahead_signals(close: np.ndarray, horizon: int = 12) -> np.ndarray:
    """Cheats: buys when the price `horizon` candles on is higher, sells when it is lower."""
    ahead = np.append(close[horizon:], np.full(horizon, close[-1]))
    return np.sign(ahead - close).astype(int)
