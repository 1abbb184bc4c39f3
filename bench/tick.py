"""Time of one live tick for 5 pairs: `python bench/tick.py [--ticks 300]`.

A real Trader on a fast-forward clock over the synthetic feed, in a temporary database:
each tick is one new 5-minute candle for each of 5 pairs, so each tick computes
indicators on the 300-candle window, the rule agents, consensus, risk, paper fills and
persists the decision, votes, orders and equity. No network, no LLM. Prints median and p99.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAIRS = '["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="volt-bench-tick-") as home:
        os.environ["VOLT_HOME"] = home
        os.environ.pop("VOLT_DB_URL", None)
        from config import load_config
        from data.store.db import make_engine, make_session_factory
        from data.store.state import read_state
        from engine.clock import FastForwardClock
        from engine.wiring import build_trader

        config = Path(home) / "bench.toml"
        config.write_text(f"[market]\npairs = {PAIRS}\n")
        clock = FastForwardClock(datetime(2026, 3, 1, tzinfo=UTC))
        factory = make_session_factory(make_engine())
        read_state(factory)  # the engine_state row the worker starts with (risk reads it)
        trader = build_trader(load_config(config), factory, clock)
        trader.defer_checkpoints()  # as the worker does: the stores' upkeep between ticks
        trader.tick()  # the first tick loads history
        gc.freeze()  # as the worker does after its first tick
        trader.between_ticks()
        clock.advance(300)
        times, cpu, upkeep, decisions, with_orders, without = [], [], [], 0, [], []
        for _ in range(args.ticks):
            began, began_cpu = time.perf_counter(), time.process_time()
            report = trader.tick()
            times.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            decisions += report.decisions
            (with_orders if report.entries or report.exits else without).append(times[-1])
            began = time.perf_counter()
            trader.between_ticks()  # the worker's idle time before the next candle
            upkeep.append((time.perf_counter() - began) * 1000)
            clock.advance(300)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    p90 = times[int(len(times) * 0.9)]
    print(
        f"tick, 5 pairs: median {statistics.median(times):.1f} ms, p90 {p90:.1f} ms, "
        f"p99 {p99:.1f} ms, "
        f"max {times[-1]:.1f} ms over {len(times)} ticks ({decisions} decisions); goal p99 < 20 ms"
    )
    if with_orders:
        print(
            f"ticks that placed an order: {len(with_orders)}, median "
            f"{statistics.median(with_orders):.1f} ms; the other ticks: median "
            f"{statistics.median(without):.1f} ms"
        )
    upkeep.sort()
    print(
        f"between ticks (write-ahead log checkpoint, in the worker's wait for the next "
        f"candle): median {statistics.median(upkeep):.1f} ms, max {upkeep[-1]:.1f} ms"
    )
    # On a shared machine wall time includes waiting for a core; CPU time does not.
    print(f"CPU time per tick: median {statistics.median(cpu):.1f} ms, load {os.getloadavg()}")


if __name__ == "__main__":
    main()
