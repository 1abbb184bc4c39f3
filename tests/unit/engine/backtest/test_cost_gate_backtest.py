"""A backtest goes through the same cost gate as the live loop: no entry whose take-profit
fails to clear three round trips of fees and slippage, on the synthetic market and on each
real series in ../shared/data/candles/."""

from pathlib import Path

import numpy as np
import pytest

from agents.regime import REGIMES
from config import Settings
from engine.backtest.candles import csv_market, synthetic_market
from engine.backtest.runner import BacktestResult, run_backtest, warm_market
from engine.wiring import build_gate
from risk.gate import TARGET_UNDER_COSTS

CANDLES = Path(__file__).resolve().parents[5] / "shared" / "data" / "candles"
COST = 2 * 0.001 + 2 * 0.0005  # the default broker's round trip: 0.30 %


def target_multiples(settings: Settings, result: BacktestResult) -> np.ndarray:
    """Each trade's approved take-profit over its entry price, in round-trip costs: the
    levels the gate gave on the entry's candle at the price it approved (the fill before
    slippage: the next candle's open by default), against the price the entry filled at."""
    gate = build_gate(settings)
    multiples = []
    for trade in result.trades.itertuples():
        signals = result.signals[trade.pair]
        row = trade.entry_row
        regime = REGIMES[int(signals.regime[row])]
        approved_at = trade.entry_price / (1 + settings.broker.slippage_rate)
        _, take_profit = gate.protective_levels(approved_at, signals.atr[row], regime)
        multiples.append((take_profit / trade.entry_price - 1) / COST)
    return np.array(multiples)


def synthetic_run(**risk) -> tuple[Settings, BacktestResult]:
    settings = Settings.model_validate({"risk": risk})
    market = synthetic_market(42, list(settings.market.pairs), "5m", None, None, 300)
    return settings, run_backtest(settings, warm_market(settings, market))


def test_the_backtest_refuses_entries_whose_target_does_not_clear_three_round_trips():
    settings, result = synthetic_run()
    assert result.simulation.reasons.get(TARGET_UNDER_COSTS, 0) > 0
    assert len(result.trades) > 0
    # Measured from the approved price the gate passes >= 3; the fill's slippage is 0.05 %.
    assert (target_multiples(settings, result) >= 3 - 0.0005 / COST - 1e-9).all()


def test_without_the_margin_the_same_market_enters_tight_targets():
    settings, result = synthetic_run(min_target_to_cost=1.0)
    assert TARGET_UNDER_COSTS not in result.simulation.reasons
    assert (target_multiples(settings, result) < 3 - 0.0005 / COST).any()


def real_series() -> list[Path]:
    if not CANDLES.is_dir():
        return []
    return sorted(p for p in CANDLES.iterdir() if p.suffix in (".feather", ".json"))


@pytest.mark.parametrize("path", real_series() or [None], ids=lambda p: p.name if p else "none")
def test_on_real_candles_no_trade_enters_a_target_under_three_round_trips(path):
    if path is None:
        pytest.skip(f"no real candles in {CANDLES}")
    base, rest = path.stem.split("_", 1)  # e.g. ETH_BTC-5m
    quote, timeframe = rest.split("-")
    pair = f"{base}/{quote}"
    settings = Settings.model_validate(
        {"market": {"pairs": [pair], "timeframe": timeframe}, "broker": {"quote_currency": quote}}
    )
    market = csv_market([path], [pair], None, None, 300, gaps="split")
    result = run_backtest(settings, warm_market(settings, market))
    multiples = target_multiples(settings, result)
    assert (multiples >= 3).all(), f"{pair}: targets of {multiples.min():.2f} round trips"
