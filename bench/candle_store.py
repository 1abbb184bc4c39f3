"""Candle store format, measured: `python bench/candle_store.py [--candles 500000] [--repeat 5]`.

Parquet (what the store writes: zstd, through pyarrow) against Feather (Arrow IPC: lz4, and
uncompressed) and CSV for reference, on one seeded random-walk series of 5-minute candles.
Per format, the median of --repeat: write the whole series, read it whole, read its last
tenth by time (what a replay or an incremental download asks for), and the file's size.
Last, the store itself: CandleStore.write of the series, then an incremental write of one
more day (merge with what is stored + atomic replace)."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data.candles import CANDLE_COLUMNS, CandleStore  # noqa: E402


def random_walk(count: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, count)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 0.001, count)) * close
    index = pd.date_range("2020-01-01", periods=count, freq="5min", tz="UTC", name="ts")
    return pd.DataFrame(
        {"open": open_, "high": np.maximum(open_, close) + spread,
         "low": np.minimum(open_, close) - spread, "close": close,
         "volume": rng.gamma(2.0, 50.0, count)},
        index=index,
    )[CANDLE_COLUMNS]  # fmt: skip


def timed(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def formats(folder: Path, table: pa.Table, since: pd.Timestamp) -> dict:
    since_arrow = pa.scalar(since, type=table.schema.field("ts").type)

    def feather_tail(path: Path) -> None:  # Feather has no row-group statistics: filter after
        whole = feather.read_table(path)
        whole.filter(pc.greater_equal(whole.column("ts"), since_arrow)).to_pandas()

    return {
        "parquet zstd": (  # as the store writes it
            folder / "c.parquet",
            lambda p: pq.write_table(table, p, compression="zstd"),
            lambda p: pq.read_table(p).to_pandas(),
            lambda p: pq.read_table(p, filters=[("ts", ">=", since)]).to_pandas(),
        ),
        "feather lz4": (
            folder / "c.lz4.feather",
            lambda p: feather.write_feather(table, p, compression="lz4"),
            lambda p: feather.read_table(p).to_pandas(),
            feather_tail,
        ),
        "feather plain": (
            folder / "c.feather",
            lambda p: feather.write_feather(table, p, compression="uncompressed"),
            lambda p: feather.read_table(p).to_pandas(),
            feather_tail,
        ),
        "csv": (
            folder / "c.csv",
            lambda p: table.to_pandas().to_csv(p, index=False),
            lambda p: pd.read_csv(p, parse_dates=["ts"]),
            lambda p: (lambda f: f[f["ts"] >= since])(pd.read_csv(p, parse_dates=["ts"])),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    candles = random_walk(args.candles)
    table = pa.Table.from_pandas(candles.reset_index(), preserve_index=False)
    since = candles.index[int(len(candles) * 0.9)]
    print(f"{args.candles:,} 5m candles, median of {args.repeat}")
    print(f"{'format':<14}{'write s':>9}{'read s':>9}{'last 10% s':>12}{'size MB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, (path, write, read, tail) in formats(folder, table, since).items():
            repeat = 1 if name == "csv" else args.repeat
            wrote = timed(lambda w=write, p=path: w(p), repeat)
            whole = timed(lambda r=read, p=path: r(p), repeat)
            part = timed(lambda t=tail, p=path: t(p), repeat)
            size = path.stat().st_size / 1e6
            print(f"{name:<14}{wrote:>9.3f}{whole:>9.3f}{part:>12.3f}{size:>9.1f}")
        store = CandleStore(folder / "store")
        first = timed(lambda: store.write("bench", "BTC/USDT", "5m", candles), 1)
        day = random_walk(args.candles + 288).iloc[-288:]
        more = timed(lambda: store.write("bench", "BTC/USDT", "5m", day), 1)
        read = timed(lambda: store.read("bench", "BTC/USDT", "5m"), args.repeat)
        print(
            f"CandleStore: first write {first:.3f} s, one more day merged {more:.3f} s, "
            f"read {read:.3f} s"
        )


if __name__ == "__main__":
    main()
