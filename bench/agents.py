"""The team against each rule agent alone and buy-and-hold:
`python bench/agents.py [--days 7] [--seed 42] [--start 2026-03-01]`.

Each configuration trades the same seeded simulated market (the default pairs, 5-minute
candles) through the real engine loop: agents, consensus, risk and the paper broker with
its fees (0.1%) and slippage (0.05%), on a fast-forward clock, each in its own temporary
database. Buy-and-hold splits the starting capital equally over the pairs at the first
price and sells at the last, paying the same fees and slippage. Prints return, maximum
drawdown, annualised Sharpe (from hourly equity) and the number of round trips.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

CONFIGS = {
    "team (default weights, learning on)": None,
    "technical alone": "technical",
    "regime alone": "regime",
    "sentiment alone": "sentiment",
}
CONFIGS_AGENTS = ("technical", "regime", "sentiment")
TICK_SECONDS = 300  # one decision per 5-minute candle


def run_config(label: str, alone: str | None, days: float, seed: int, start: datetime):
    from config import load_config
    from data import queries
    from data.store.db import make_engine, make_session_factory
    from engine.clock import FastForwardClock
    from engine.wiring import build_trader

    with tempfile.TemporaryDirectory(prefix="volt-bench-agents-") as home:
        os.environ["VOLT_HOME"] = home
        os.environ.pop("VOLT_DB_URL", None)
        os.environ.pop("VOLT_PAPER_DB_URL", None)
        config = Path(home) / "bench.toml"
        text = f"[feed]\nseed = {seed}\n"
        if alone:
            weights = "\n".join(f"{a} = {1.0 if a == alone else 0.0}" for a in CONFIGS_AGENTS)
            text += f"[agents.weights]\n{weights}\n"
        config.write_text(text)
        settings = load_config(config)
        engine = make_engine()
        clock = FastForwardClock(start)
        trader = build_trader(settings, make_session_factory(engine), clock)
        began = time.perf_counter()
        for _ in range(int(days * 86400 / TICK_SECONDS)):
            trader.tick()
            clock.advance(TICK_SECONDS)
        wall = time.perf_counter() - began
        equity = queries.equity_curve(engine, limit=10_000_000).set_index("ts")["equity"]
        trades = len(queries.trades(engine))
        engine.dispose()
    return label, summarise(equity, settings.broker.starting_capital), trades, wall


def summarise(equity: pd.Series, capital: float) -> dict[str, float]:
    curve = pd.concat([pd.Series([capital], index=[equity.index[0]]), equity])
    hourly = curve.resample("1h").last().ffill()
    returns = hourly.pct_change().dropna()
    sharpe = returns.mean() / returns.std() * math.sqrt(24 * 365) if returns.std() > 0 else 0.0
    drawdown = (curve / curve.cummax() - 1).min()
    return {
        "return": curve.iloc[-1] / capital - 1,
        "max_drawdown": drawdown,
        "sharpe": sharpe,
    }


def buy_and_hold(days: float, seed: int, start: datetime) -> dict[str, float]:
    from config import load_config
    from engine.venues.synthetic import SyntheticFeed

    settings = load_config()
    broker = settings.broker
    feed = SyntheticFeed(seed, settings.market.timeframe)
    end = start + timedelta(days=days)
    candles = int(days * 86400 / 300) + 1
    share = broker.starting_capital / len(settings.market.pairs)
    closes = {}
    for pair in settings.market.pairs:
        frame = feed.candles(pair, end, candles)
        closes[pair] = frame["close"][frame.index >= start - timedelta(minutes=5)]
    cost = 1 + broker.fee_rate + broker.slippage_rate  # one market buy ...
    keep = (1 - broker.slippage_rate) * (1 - broker.fee_rate)  # ... and one market sell
    value = sum(share / cost * (closes[p] / closes[p].iloc[0]) for p in settings.market.pairs)
    value.iloc[-1] *= keep
    return summarise(value, broker.starting_capital)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2026-03-01", help="first market day (UTC)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    began = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(run_config, label, alone, args.days, args.seed, start)
            for label, alone in CONFIGS.items()
        ]
        rows = [future.result() for future in futures]
    held = buy_and_hold(args.days, args.seed, start)
    rows.append(("buy and hold (equal parts)", held, len(_pairs()), 0.0))
    print(
        f"{args.days:g} simulated days from {start:%Y-%m-%d}, seed {args.seed}, "
        f"pairs {', '.join(_pairs())}; fees 0.1% and slippage 0.05% per fill"
    )
    print(f"| {'strategy':<36} | return | max drawdown | Sharpe | trades |")
    print(f"| {'-' * 36} | ---: | ---: | ---: | ---: |")
    for label, stats, trades, _wall in rows:
        print(
            f"| {label:<36} | {stats['return']:+.2%} | {stats['max_drawdown']:.2%} "
            f"| {stats['sharpe']:+.2f} | {trades} |"
        )
    print(f"wall time {time.perf_counter() - began:.0f} s with {args.jobs} processes")


def _pairs() -> list[str]:
    from config import load_config

    return load_config().market.pairs


if __name__ == "__main__":
    main()
