"""Worker memory over a long run: `python bench/memory.py [--decisions 80000] [--trace]`.

The engine worker as `python -m engine run --speed X` wires it (config, store, events log,
Worker.step with its reconciliation, commands, tick, state and upkeep), in-process on the
seeded synthetic feed and paper exchange in a temporary VOLT_HOME, on a clock that jumps
straight to the next tick. By default one tick is one new candle for each pair, so one
decision per pair (`--tick-seconds 60` is the worker's default: a decision a pair on one
tick in five). Every 10k decisions it collects garbage and prints the worker's RSS and the
growth per decision since the first mark; `--trace` adds tracemalloc's top growth sites
(slower: tracing allocations costs about twice the time). Goal: flat, i.e. the growth per
decision falls towards 0 as the run goes on rather than staying level.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAIRS = [f"{base}/USDT" for base in ("BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "LTC")]
MARK_EVERY = 10_000  # decisions between two RSS marks
WARM_UP = 2_000  # decisions before the first mark: caches filled, the heap frozen


def _config(home: Path, pairs: int, tick_seconds: float) -> Path:
    config = home / "bench.toml"
    listed = ", ".join(f'"{pair}"' for pair in PAIRS[:pairs])
    config.write_text(f"[market]\npairs = [{listed}]\n\n[engine]\ntick_seconds = {tick_seconds}\n")
    return config


def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def _sqlite_bytes() -> int:
    """What SQLite's own allocator holds (page caches, statements): outside tracemalloc's view."""
    import _sqlite3

    used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    used.restype = ctypes.c_int64
    return used()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=80_000)
    parser.add_argument("--pairs", type=int, default=len(PAIRS), choices=range(1, 9))
    # One tick a candle by default: every step decides every pair (the worker's usual 60 s
    # tick on 5-minute candles decides on one tick in five; the others only read the feed).
    parser.add_argument("--tick-seconds", type=float, default=300.0)
    parser.add_argument("--trace", action="store_true", help="tracemalloc's top growth sites")
    parser.add_argument("--top", type=int, default=12, help="growth sites to print (--trace)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="volt-bench-memory-") as home:
        os.environ["VOLT_HOME"] = home
        os.environ.pop("VOLT_DB_URL", None)
        run(Path(home), args)


def run(home: Path, args: argparse.Namespace) -> None:
    from config import load_config
    from data.store.db import make_engine, make_session_factory
    from engine.clock import FastForwardClock
    from engine.runtime.home import setup_logging
    from engine.runtime.worker import Worker

    settings = load_config(_config(home, args.pairs, args.tick_seconds))
    factory = make_session_factory(make_engine())
    setup_logging("worker", factory, console=False)  # the events log, as the worker's
    worker = Worker(settings, factory)
    clock = FastForwardClock(datetime(2026, 3, 1, tzinfo=UTC))
    worker.clock = worker.trader.clock = clock  # as fast as the machine goes
    decisions = 0
    tick = worker.trader.tick

    def counted_tick():
        nonlocal decisions
        report = tick()
        decisions += report.decisions
        return report

    worker.trader.tick = counted_tick
    tick_seconds = settings.engine.tick_seconds

    def steps_until(target: int) -> None:
        while decisions < target:
            worker.step()
            clock.advance(tick_seconds)

    steps_until(WARM_UP)
    if args.trace:
        import tracemalloc

        tracemalloc.start(8)
        first_snapshot = tracemalloc.take_snapshot()
    began, first, marks = time.perf_counter(), _rss(), []
    print(
        f"{args.pairs} pairs, a decision each a tick; after a warm-up of {decisions} "
        f"decisions: RSS {first / 2**20:.1f} MiB, SQLite {_sqlite_bytes() / 2**20:.1f} MiB"
    )
    previous = first
    while decisions < WARM_UP + args.decisions:
        steps_until(decisions + MARK_EVERY)
        rss = _rss()
        marks.append(rss - previous)
        done = decisions - WARM_UP
        print(
            f"{done:>7} decisions: RSS {rss / 2**20:7.1f} MiB, "
            f"{(rss - previous) / 2**10:+7.0f} KiB in these 10k "
            f"({(rss - previous) / MARK_EVERY:+.0f} B/decision), "
            f"{(rss - first) / done:+.0f} B/decision since the first mark, "
            f"SQLite {_sqlite_bytes() / 2**20:.1f} MiB, "
            f"{time.perf_counter() - began:.0f} s",
            flush=True,
        )
        previous = rss
    median = statistics.median(marks)
    print(
        f"median growth per 10k decisions: {median / 2**10:+.0f} KiB "
        f"({median / MARK_EVERY:+.0f} B/decision); total {(previous - first) / 2**20:+.2f} MiB "
        f"({(previous - first) / first * 100:+.1f} %) over {decisions - WARM_UP} decisions"
    )
    if args.trace:
        _print_growth(first_snapshot, args.top)
    worker.shutdown()


def _print_growth(first_snapshot, top: int) -> None:
    import tracemalloc

    gc.collect()
    stats = tracemalloc.take_snapshot().compare_to(first_snapshot, "traceback")
    print(f"top {top} growth sites (tracemalloc, since the first mark):")
    for stat in stats[:top]:
        print(f"  {stat.size_diff / 2**10:+8.1f} KiB  {stat.count_diff:+7d} blocks")
        for line in stat.traceback.format(limit=4, most_recent_first=True):
            print(f"      {line}")


if __name__ == "__main__":
    main()
