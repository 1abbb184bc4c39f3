"""Markets whose next open is not the last close, for tests of next-open fills: the
synthetic feed opens each candle exactly where the last one closed, real markets do not."""

from __future__ import annotations

import zlib
from datetime import datetime

import numpy as np
import pandas as pd

from data.candles.store import CandleStore
from engine.venues.synthetic import SyntheticFeed


def gapped(candles: pd.DataFrame, seed: int, bps: float = 10.0) -> pd.DataFrame:
    """The candles with each open moved off the previous close by a seeded gap of up to
    `bps` basis points either way; high and low widened to hold the new open."""
    gap = np.random.default_rng(seed).uniform(-bps, bps, len(candles)) / 1e4
    out = candles.copy()
    out["open"] = candles["open"].to_numpy() * (1 + gap)
    out["high"] = np.maximum(out["high"], out["open"])
    out["low"] = np.minimum(out["low"], out["open"])
    return out


def gapped_synthetic(
    seed: int, pair: str, until: datetime, count: int, bps: float = 10.0
) -> pd.DataFrame:
    """The synthetic market's last `count` candles closed at `until`, gapped."""
    candles = SyntheticFeed(seed, "5m").candles(pair, until, count)
    return gapped(candles, zlib.crc32(f"{seed} {pair}".encode()), bps)


def store_gapped(
    store: CandleStore, seed: int, pairs: list[str], until: datetime, count: int, bps: float = 10.0
) -> dict[str, pd.DataFrame]:
    """Store the last `count` gapped synthetic 5m candles of `pairs` closed at `until`, as
    binance's, for a replay feed and a backtest of the same candles."""
    frames = {pair: gapped_synthetic(seed, pair, until, count, bps) for pair in pairs}
    for pair, frame in frames.items():
        store.write("binance", pair, "5m", frame)
    return frames
