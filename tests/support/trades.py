"""Trades frames of any size, and the CSV a per-value export would write."""

import numpy as np
import pandas as pd


def reference_csv(frame: pd.DataFrame) -> bytes:
    """The export as it was first written: slow, but the format the CSV keeps."""
    out = frame.copy()
    for column in ("entry_ts", "exit_ts"):
        if column in out and not out.empty:
            out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return out.to_csv(index=False, float_format="%.10g").encode()


def trades_frame(count: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2024-01-01 00:00:00.123456", tz="UTC")
    frame = pd.DataFrame(
        {
            "id": np.arange(1, count + 1),
            "pair": np.array(["BTC/USDT", "ETH/USDT", "SOL/USDT"])[np.arange(count) % 3],
            "side": "long",
            "amount": rng.random(count) * 3,
            "entry_ts": start + pd.to_timedelta(np.arange(count) * 601, unit="s"),
            "entry_price": rng.random(count) * 60_000,
            "exit_ts": start + pd.to_timedelta(np.arange(count) * 601 + 299, unit="s"),
            "exit_price": rng.random(count) * 1e-5,
            "fees": rng.random(count),
            "pnl": rng.normal(size=count) * 1e7,
            "pnl_pct": rng.normal(size=count) * 0.01,
            "exit_reason": "signal, then a stop",  # a comma: quoted as before
        }
    )
    frame.loc[3, "pnl"] = np.nan
    frame.loc[4, "pnl"] = -0.0
    frame.loc[5, "exit_ts"] = pd.NaT
    return frame
