"""A market with no edge in it: a seeded geometric random walk written as a candle CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def random_walk_csv(path: Path, candles: int, seed: int, step_seconds: int = 300) -> Path:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, candles)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.001, candles)) * close
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=candles, freq=f"{step_seconds}s",
                                       tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.uniform(50, 150, candles),
        }
    )  # fmt: skip
    frame.to_csv(path, index=False, float_format="%.8f")
    return path
