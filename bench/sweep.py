"""A parameter sweep, VOLT against vectorbt on the same grid and candles:
`python bench/sweep.py [--candles 100000] [--repeat 5] [--data FILE]`.

The textbook RSI rule (buy when RSI is below the entry level and flat, sell when it is above
the exit level and long), 5 RSI lengths x 10 entry levels x 20 exit levels = 1,000
combinations, a fee of 0.1 % on both sides, a fixed size of one unit, trading on the close.
VOLT: `engine.backtest.grid.rsi_grid` (each RSI length once, the combinations compiled with
numba, in parallel). vectorbt: its broadcast `Portfolio.from_signals` over the 1,000 signal
columns, the way its users sweep a grid, fed the same RSI values (Wilder's, as `ta` and VOLT
compute them; vectorbt's own RSI averages differently and would find another best). Both
sides' timings include the RSI and the signals; the candles are not timed. Each side runs
once untimed first (numba compiles both), then the median of --repeat. VOLT's compile time
is printed apart: once in a fresh process with an empty numba cache (what a new machine
pays once, `cache=True`), and this process's first call (normally a cache load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data.market.indicators import rsi  # noqa: E402
from engine.backtest.grid import _sweep, rsi_grid  # noqa: E402

PERIODS = (7, 10, 14, 21, 28)
ENTRY_LEVELS = tuple(range(10, 40, 3))  # 10 levels
EXIT_LEVELS = tuple(range(50, 90, 2))  # 20 levels
FEE, SIZE = 0.001, 1.0


def random_walk(candles: int, seed: int = 7) -> np.ndarray:
    steps = np.random.default_rng(seed).normal(0, 0.002, candles)
    return 100 * np.exp(np.cumsum(steps))


def read_closes(path: str) -> np.ndarray:
    from data.candles.readers import read_candle_file

    return read_candle_file(path).candles["close"].to_numpy(dtype=float)


COLD_COMPILE = """
import time, numpy as np
began = time.perf_counter()
from engine.backtest.grid import rsi_grid
rsi_grid(np.linspace(1.0, 2.0, 100), (3,), (30,), (70,), 0.001)
print(time.perf_counter() - began)
"""


def cold_compile_seconds() -> float:
    """Import and first call in a new process whose numba cache starts empty."""
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {"NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", COLD_COMPILE], env=env, capture_output=True, text=True
        )
    if out.returncode:
        sys.exit(f"bench: the cold compile failed: {out.stderr.strip().splitlines()[-1]}")
    return float(out.stdout)


def volt(close: np.ndarray):
    result = rsi_grid(close, PERIODS, ENTRY_LEVELS, EXIT_LEVELS, FEE, SIZE)
    return result.profit, result.best()


def vectorbt(close: np.ndarray):
    import vectorbt as vbt

    series = pd.Series(close)
    columns, entries, exits = [], [], []
    for period in PERIODS:
        values = rsi(close, period)
        for entry in ENTRY_LEVELS:
            for exit_ in EXIT_LEVELS:
                columns.append((period, entry, exit_))
                entries.append(values < entry)
                exits.append(values > exit_)
    index = pd.MultiIndex.from_tuples(columns, names=["period", "entry", "exit"])
    portfolio = vbt.Portfolio.from_signals(
        series,
        pd.DataFrame(np.column_stack(entries), columns=index),
        pd.DataFrame(np.column_stack(exits), columns=index),
        size=SIZE,
        size_type="amount",
        fees=FEE,
        init_cash=1e12,
        accumulate=False,
        direction="longonly",
        freq="5min",
    )
    profit = portfolio.total_profit().to_numpy()
    k = int(np.argmax(profit))
    return profit, (*columns[k], float(profit[k]))


def timed(run, close: np.ndarray, repeat: int):
    run(close)  # compiles (numba, both sides) and warms caches
    times, out = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        out = run(close)
        times.append(time.perf_counter() - began)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", help="a candle file instead of the seeded random walk")
    args = parser.parse_args()
    close = read_closes(args.data) if args.data else random_walk(args.candles)
    source = args.data or "a geometric random walk (seed 7, 5-minute steps, sigma 0.2 %)"
    combos = len(PERIODS) * len(ENTRY_LEVELS) * len(EXIT_LEVELS)
    print(
        f"RSI rule grid: {combos:,} combinations ({len(PERIODS)} lengths x "
        f"{len(ENTRY_LEVELS)} entry x {len(EXIT_LEVELS)} exit levels), fee {FEE:.1%}, "
        f"size {SIZE:g}, on the close; {len(close):,} closes of {source}"
    )
    warnings.filterwarnings("ignore")
    cold = cold_compile_seconds()
    began = time.perf_counter()
    volt(close[:1000])
    first = time.perf_counter() - began
    loaded = "loaded from numba's cache" if _sweep.stats.cache_hits else "compiled"
    print(
        f"VOLT compile, a new machine (empty numba cache, import included): {cold:.2f} s; "
        f"this run's first call ({loaded}): {first:.2f} s; {numba.get_num_threads()} threads"
    )
    volt_s, (volt_profit, volt_best) = timed(volt, close, args.repeat)
    vbt_s, (vbt_profit, vbt_best) = timed(vectorbt, close, args.repeat)
    same = volt_best[:3] == vbt_best[:3]
    print(f"median of {args.repeat} runs after one untimed warm-up run each")
    print(f"VOLT      median {volt_s:8.3f} s  best {volt_best[:3]} profit {volt_best[3]:+.4f}")
    print(f"vectorbt  median {vbt_s:8.3f} s  best {vbt_best[:3]} profit {vbt_best[3]:+.4f}")
    gap = float(np.max(np.abs(volt_profit - vbt_profit)))
    print(
        f"VOLT is {vbt_s / volt_s:.1f}x faster (goal: 2x); the same best combination: "
        f"{'yes' if same else 'NO'}; largest profit difference over all combinations "
        f"{gap:.2e}"
    )


if __name__ == "__main__":
    main()
