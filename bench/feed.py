"""A 100-pair tick's candle reads, at once and one after another: `python bench/feed.py`.

A real Trader in paper mode on the ccxt feed, pointed at the loopback Binance of the tests
(tests/support/fake_binance.py: real ccxt over real HTTP) answering every request after
100 ms. Times the tick's fetch phase as the loop runs it (`Fetcher.read_all`, then each
pair's `new_candles` in turn) with exchange.max_concurrent_requests reads in flight, and
with one at a time (the way every tick read before). ccxt's own rateLimit is kept, so the
client's request-weight budget is Binance's. Prints the median of a few rounds of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG = """
mode = "paper"
[market]
pairs = {pairs}
timeframe = "5m"
history_candles = 300
[feed]
kind = "ccxt"
[exchange]
base_url = "{url}"
max_concurrent_requests = {pool}
"""


def fetch_phase(trader, now: datetime) -> float:
    """Seconds of one tick's fetch phase, as Trader._fetch runs it; fails on any error."""
    from engine.trading.loop import TickReport

    began = time.perf_counter()
    reads = trader.fetcher.read_all(trader.pairs, now)
    report = TickReport()
    new = [trader.fetcher.new_candles(p, now, report, reads.get(p)) for p in trader.pairs]
    seconds = time.perf_counter() - began
    if not all(candles is not None and len(candles.window) for candles in new):
        raise SystemExit("a pair came back without candles: the bench measured nothing")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--pool", type=int, default=10, help="max_concurrent_requests")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="volt-bench-feed-") as home:
        os.environ["VOLT_HOME"] = home
        os.environ.pop("VOLT_DB_URL", None)
        from config import load_config
        from data.store.db import make_engine, make_session_factory
        from data.store.state import read_state
        from engine.clock import FastForwardClock
        from engine.wiring import build_trader
        from tests.support.fake_binance import FakeBinance

        fake = FakeBinance().start()
        try:
            added = fake.add_markets(args.pairs - len(fake.markets))
            pairs = ["BTC/USDT", "ETH/USDT", *added][: args.pairs]
            config = Path(home) / "bench.toml"
            config.write_text(CONFIG.format(pairs=pairs, url=fake.url, pool=args.pool))
            now = datetime.now(UTC)
            factory = make_session_factory(make_engine())
            read_state(factory)
            trader = build_trader(load_config(config), factory, FastForwardClock(now))
            trader.exchange.load_markets()  # once per process, not part of a tick
            fake.latency_seconds = args.latency
            times: dict[int, list[float]] = {args.pool: [], 1: []}
            most: dict[int, int] = {}  # the most requests the exchange saw in flight at once
            for _ in range(args.rounds):
                for pool in times:  # interleaved: both ways see the same machine load
                    trader.feed.concurrent_requests = pool
                    fake.most_in_flight = 0
                    times[pool].append(fetch_phase(trader, now))
                    most[pool] = max(most.get(pool, 0), fake.most_in_flight)
            requests = len(fake.calls("GET", "/api/v3/klines"))
            weights = trader.exchange.weights
            spent, budget = weights.spent(), weights.budget()
        finally:
            fake.stop()
    print(
        f"{args.pairs} pairs, loopback Binance answering each request in "
        f"{args.latency * 1000:.0f} ms, {args.rounds} rounds each, {requests} klines requests"
    )
    for pool, label in ((args.pool, f"at once ({pool_label(args.pool)})"), (1, "one by one")):
        rounds = ", ".join(f"{t:.2f}" for t in times[pool])
        median = statistics.median(times[pool])
        print(f"  {label:<34} median {median:6.2f} s  ({rounds}; {most[pool]} in flight)")
    speedup = statistics.median(times[1]) / statistics.median(times[args.pool])
    print(f"  {speedup:.1f}x faster; request weight spent {spent / 0.2:.0f} of "
          f"{budget / 0.2:.0f} a minute (Binance spot)")  # fmt: skip


def pool_label(pool: int) -> str:
    return f"max_concurrent_requests = {pool}"


if __name__ == "__main__":
    main()
