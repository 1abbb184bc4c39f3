"""A big VOLT database for the dashboard benches, written through VOLT's own models:
`python bench/seed_dashboard.py HOME [--scale 0.01]` (prints the row counts).

At scale 1: 1,000,000 candles (4 pairs x 250,000 five-minute candles up to now), 100,000
decisions with 3-4 votes each (rationale text and data as the agents write them), 100,000
closed trades with their orders and fills, a journal entry per executed decision, an equity
snapshot per tick, and the events, commands, system samples, rejections, protection locks,
weight changes and stored backtests an engine leaves behind over that time. Bulk inserts
(SQLAlchemy core `insert()` with lists of rows), about a minute at scale 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from data.store.db import make_engine  # noqa: E402
from data.store.models import (  # noqa: E402
    AgentWeight,
    Base,
    Candle,
    Command,
    Decision,
    EngineState,
    EquitySnapshot,
    Event,
    Fill,
    JournalEntry,
    Order,
    Position,
    ProtectionLock,
    Rejection,
    SystemMetric,
    Trade,
    VoteRow,
)

PAIRS = {"BTC/USDT": 60_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 150.0, "BNB/USDT": 550.0}
STEP = timedelta(minutes=5)
CHUNK = 20_000  # rows per executemany: big enough to be fast, small enough for memory
# Rows at scale 1; every count scales linearly (at least one of each).
FULL = {
    "candles": 1_000_000,
    "decisions": 100_000,
    "trades": 100_000,
    "equity": 250_000,
    "events": 20_000,
    "commands": 2_000,
    "system_metrics": 20_000,
    "rejections": 5_000,
    "protection_locks": 300,
    "agent_weights": 400,
    "backtest_runs": 10,
}


def scaled(scale: float) -> dict[str, int]:
    return {table: max(1, round(rows * scale)) for table, rows in FULL.items()}


def _chunks(rows: Iterator[dict]) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert(engine: Engine, model, rows: Iterator[dict]) -> None:
    with engine.begin() as conn:
        for batch in _chunks(rows):
            conn.execute(insert(model), batch)


def _walks(per_pair: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A geometric random walk of closes per pair (0.2 % per candle), ending near the base."""
    return {
        pair: base * np.exp(np.cumsum(rng.normal(0, 0.002, per_pair)) * 0.5)
        for pair, base in PAIRS.items()
    }


def seed(engine: Engine, scale: float = 1.0, end: datetime | None = None, seed_: int = 7) -> None:
    """Fill an empty store (tables made by `make_engine`) with `scale` x the FULL counts."""
    counts = scaled(scale)
    rng = np.random.default_rng(seed_)
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 5)
    per_pair = max(1, counts["candles"] // len(PAIRS))
    start = end - (per_pair - 1) * STEP
    closes = _walks(per_pair, rng)
    _candles(engine, closes, start)
    journal = _decisions(engine, counts["decisions"], closes, start, per_pair, rng)
    _trades(engine, counts["trades"], closes, start, per_pair, journal)
    _equity(engine, counts["equity"], end, rng)
    _engine_rows(engine, counts, closes, start, end, per_pair, rng)
    _backtests(counts["backtest_runs"], engine)


def _candles(engine: Engine, closes: dict[str, np.ndarray], start: datetime) -> None:
    def rows():
        for pair, close in closes.items():
            wiggle = close * 0.001
            for i, price in enumerate(close.tolist()):
                yield {
                    "pair": pair, "timeframe": "5m", "ts": start + i * STEP,
                    "open": price - wiggle[i] / 2, "high": price + wiggle[i],
                    "low": price - wiggle[i], "close": price, "volume": 10.0 + i % 37,
                }  # fmt: skip

    _insert(engine, Candle, rows())


def _rationales(rng: np.random.Generator, price: float) -> list[tuple[str, str, str, dict]]:
    """(agent, source, rationale, data) for one decision, as the rule agents write them."""
    rsi, bb, hist = rng.uniform(20, 80), rng.uniform(0, 1), rng.normal(0, 0.1)
    trend, vol, mood = rng.normal(0, 5), rng.uniform(0.5, 2), rng.normal(0, 0.3)
    return [
        ("technical", "rule",
         f"RSI {rsi:.1f} (neutral); price {bb:.0%} of the way up the bands; MACD momentum "
         f"{'rising' if hist > 0 else 'falling'} (histogram {hist:+.3f}); score {mood:+.2f}",
         {"score": mood, "rsi": rsi, "bb_pct": bb, "macd_hist": hist, "atr": price * 0.004}),
        ("regime", "rule",
         f"normal regime: {'uptrend' if trend > 0 else 'downtrend'} ({trend:+.1f} ATR between "
         f"EMA50 and EMA200); volatility {vol:.1f}x its long-run level; -0.2% from the "
         "12-candle high",
         {"trend_strength": trend, "vol_ratio": vol, "drop": -0.002, "regime_code": 0.0}),
        ("sentiment", "rule",
         f"crowd calm (mood {mood:+.2f}): 12-candle momentum {mood * 3:+.1f} sigma on "
         f"{vol:.1f}x usual volume (offline proxy from market data)",
         {"momentum_z": mood * 3, "volume_surge": vol, "mood": mood}),
    ]  # fmt: skip


def _decisions(engine, count, closes, start, per_pair, rng) -> list[dict]:
    """The newest `count` ticks' decisions, one per pair per candle; every third executed.
    Returns their journal entries, written by `_trades` once the orders they point at are."""
    pairs = list(closes)
    rows, votes, journal = [], [], []
    first_candle = max(0, per_pair - count // len(pairs) - 1)
    for i in range(count):
        pair = pairs[i % len(pairs)]
        candle = min(per_pair - 1, first_candle + i // len(pairs))
        price = float(closes[pair][candle])
        ts = start + candle * STEP
        action = ("BUY", "HOLD", "SELL", "HOLD")[i % 4]
        executed = i % 3 == 0 and action != "HOLD"
        rows.append({
            "id": i + 1, "ts": ts, "pair": pair, "candle_ts": ts, "price": price,
            "action": action, "score": float(rng.uniform(-1, 1)), "threshold": 0.55,
            "regime": "normal", "executed": executed,
            "outcome": f"bought 0.5 at {price:.2f} (fee 0.25)" if executed else "",
            "audit": "",
        })  # fmt: skip
        for agent, source, rationale, data in _rationales(rng, price):
            votes.append({
                "decision_id": i + 1, "agent": agent, "action": action, "source": source,
                "confidence": float(rng.uniform(0, 1)), "weight": 1.0,
                "rationale": rationale, "data": data,
            })  # fmt: skip
        if i % 2 == 0:  # the LLM answers every other decision, abstains now and then
            abstain = i % 10 == 0
            votes.append({
                "decision_id": i + 1, "agent": "llm", "action": "HOLD" if abstain else action,
                "source": "abstain" if abstain else "llm", "confidence": 0.6, "weight": 0.5,
                "rationale": "timed out after 8 s" if abstain else
                f"{pair} holds above its 50-candle average with rising volume; momentum "
                "is fading near resistance, so a small position at most.",
                "data": {"latency_ms": 1800.0 + i % 900, "tokens": 420 + i % 80,
                         "model": "qwen2.5:3b"},
            })  # fmt: skip
        if executed:
            outcome = "PENDING" if i >= count - 40 else ("WIN", "LOSS", "STOPPED")[i % 3]
            resolved = outcome != "PENDING"
            journal.append({
                "decision_id": i + 1, "pair": pair, "action": action, "confidence": 0.6,
                "entry_ts": ts, "entry_price": price, "amount": 0.5, "order_id": None,
                "outcome": outcome, "exit_ts": ts + 12 * STEP if resolved else None,
                "exit_price": price * 1.01 if resolved else None,
                "exit_reason": "take_profit" if outcome == "WIN" else "",
                "pnl": (1.0 if outcome == "WIN" else -1.0) if resolved else None,
                "pnl_pct": 0.01 if resolved else None,
                "duration_s": 3600.0 if resolved else None, "trade_id": None,
            })  # fmt: skip
    _insert(engine, Decision, iter(rows))
    _insert(engine, VoteRow, iter(votes))
    return journal


def _trades(engine, count, closes, start, per_pair, journal) -> None:
    """Round trips spread over the whole candle history, each with its two orders and fills;
    the newest ones carry the journal's executed decisions."""
    pairs = list(closes)
    orders, fills, trades = [], [], []
    span = per_pair - 13
    for i in range(count):
        pair = pairs[i % len(pairs)]
        candle = min(span, i * span // max(1, count - 1)) if span > 0 else 0
        held = 1 + i % 12
        entry_price = float(closes[pair][candle])
        exit_price = float(closes[pair][min(per_pair - 1, candle + held)])
        entry_ts, exit_ts = start + candle * STEP, start + (candle + held) * STEP
        amount = 500.0 / entry_price
        fee = 0.5
        entry_id, exit_id = 2 * i + 1, 2 * i + 2
        for order_id, side, ts, price in (
            (entry_id, "buy", entry_ts, entry_price),
            (exit_id, "sell", exit_ts, exit_price),
        ):
            orders.append({
                "id": order_id, "client_order_id": f"volt-{order_id}", "decision_id": None,
                "ts": ts, "pair": pair, "side": side, "kind": "market", "amount": amount,
                "price": price, "status": "filled", "reason": "signal",
            })  # fmt: skip
            fills.append({
                "order_id": order_id, "ts": ts, "pair": pair, "side": side, "amount": amount,
                "price": price, "fee": fee / 2,
            })  # fmt: skip
        pnl = (exit_price - entry_price) * amount - fee
        reason = ("signal", "stop_loss", "take_profit", "trailing_stop")[i % 4]
        trades.append({
            "id": i + 1, "pair": pair, "side": "long", "amount": amount,
            "entry_ts": entry_ts, "entry_price": entry_price, "exit_ts": exit_ts,
            "exit_price": exit_price, "fees": fee, "pnl": pnl,
            "pnl_pct": pnl / (entry_price * amount), "exit_reason": reason,
            "entry_order_id": entry_id, "exit_order_id": exit_id,
        })  # fmt: skip
    # The journal's entries point at the newest trades' entry orders.
    for n, entry in enumerate(journal):
        trade = trades[max(0, count - len(journal) + n)]
        entry["order_id"] = trade["entry_order_id"]
        entry["trade_id"] = trade["id"] if entry["outcome"] != "PENDING" else None
        orders[trade["entry_order_id"] - 1]["decision_id"] = entry["decision_id"]
    _insert(engine, Order, iter(orders))
    _insert(engine, Fill, iter(fills))
    _insert(engine, Trade, iter(trades))
    _insert(engine, JournalEntry, iter(journal))
    # A few open positions, on the newest candles.
    with engine.begin() as conn:
        for n, pair in enumerate(pairs[:3]):
            order_id = 2 * count + n + 1
            price = float(closes[pair][-1])
            conn.execute(insert(Order).values(
                id=order_id, client_order_id=f"volt-open-{n}", ts=start + (per_pair - 1) * STEP,
                pair=pair, side="buy", kind="market", amount=1.0, price=price, status="filled",
                reason="signal",
            ))  # fmt: skip
            conn.execute(insert(Position).values(
                pair=pair, amount=500.0 / price, entry_price=price, entry_fee=0.25,
                entry_ts=start + (per_pair - 1) * STEP, stop_loss=price * 0.97,
                take_profit=price * 1.05, entry_order_id=order_id,
            ))  # fmt: skip


def _equity(engine, count, end, rng) -> None:
    """One snapshot per tick, ending now."""
    walk = 10_000.0 + np.cumsum(rng.normal(0.01, 2.0, count))
    first = end - (count - 1) * STEP
    rows = (
        {"ts": first + i * STEP, "equity": value, "cash": value * 0.8,
         "positions_value": value * 0.2}
        for i, value in enumerate(walk.tolist())
    )  # fmt: skip
    _insert(engine, EquitySnapshot, rows)


def _engine_rows(engine, counts, closes, start, end, per_pair, rng) -> None:
    """Events, commands, system samples, refusals, locks, weights and the engine's state."""
    now = datetime.now(UTC)
    span = end - start
    levels = ("INFO",) * 8 + ("WARNING", "ERROR")

    def spread(n: int, i: int) -> datetime:
        return start + span * (i / max(1, n - 1))

    n = counts["events"]
    _insert(engine, Event, (
        {"ts": spread(n, i), "level": levels[i % 10], "source": ("worker", "supervisor")[i % 2],
         "kind": ("tick", "restart", "feed", "order")[i % 4],
         "message": f"feed answered late ({i % 9 + 1} s); entries resume at the next candle",
         "traceback": "Traceback (most recent call last):\n  ...\nTimeoutError" if i % 10 == 9
         else ""}
        for i in range(n)
    ))  # fmt: skip
    n = counts["commands"]
    kinds = ("pause", "resume", "stop", "start", "close_position", "backtest")
    _insert(engine, Command, (
        {"ts": spread(n, i), "kind": kinds[i % 6], "payload": {"pair": "BTC/USDT"}
         if kinds[i % 6] == "close_position" else {}, "status": "done", "claimed_by": "worker",
         "result": "done", "done_ts": spread(n, i) + timedelta(seconds=1)}
        for i in range(n)
    ))  # fmt: skip
    n = counts["system_metrics"]
    _insert(engine, SystemMetric, (
        {"ts": now - timedelta(seconds=30 * (n - i)), "cpu_percent": 10.0 + i % 30,
         "cpu_temp_c": 45.0 + i % 10, "memory_percent": 40.0 + i % 5,
         "engine_rss_mb": 180.0 + i % 20, "on_ac": True, "battery_percent": 100.0}
        for i in range(n)
    ))  # fmt: skip
    n = counts["rejections"]
    pairs = list(closes)
    _insert(engine, Rejection, (
        {"ts": spread(n, i), "pair": pairs[i % 4], "side": "buy",
         "source": ("risk", "broker")[i % 2],
         "reason": "max_open_positions: 3 of 3 positions open", "decision_id": None}
        for i in range(n)
    ))  # fmt: skip
    n = counts["protection_locks"]
    _insert(engine, ProtectionLock, (
        {"protection": ("losing_streak", "cooldown", "daily_loss")[i % 3],
         "pair": pairs[i % 4] if i % 3 == 1 else None,
         "reason": "3 losses in a row", "clears": "after 2 h of market time",
         "ts": spread(n, i), "until": spread(n, i) + timedelta(hours=2),
         "lifted_ts": None if i == n - 1 else spread(n, i) + timedelta(hours=2)}
        for i in range(n)
    ))  # fmt: skip
    n = counts["agent_weights"]
    agents = ("technical", "regime", "sentiment", "llm")
    _insert(engine, AgentWeight, (
        {"ts": spread(n, i), "agent": agents[i % 4], "weight": 1.0 + (i % 7) / 10,
         "previous": 1.0, "base": 1.0, "accuracy": 0.5 + (i % 5) / 20, "samples": 50,
         "reason": "accuracy 55% over the last 50 calls"}
        for i in range(n)
    ))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(EngineState).values(
            id=1, status="stopped", desired="stopped", mode="paper", feed="synthetic",
            market_time=end, heartbeat_at=now - timedelta(minutes=3), updated_at=now,
        ))  # fmt: skip


def _backtests(runs: int, engine: Engine) -> None:
    """One synthetic backtest, stored `runs` times (what a month of trying settings leaves)."""
    from config import load_config
    from engine.backtest import run_backtest, synthetic_market
    from engine.backtest.report import build_report
    from engine.backtest.store import finish_run, start_run

    pairs = list(PAIRS)[:3]
    market = synthetic_market(1, pairs, "5m", datetime(2026, 2, 1, tzinfo=UTC),
                              datetime(2026, 3, 1, tzinfo=UTC), 300)  # fmt: skip
    result = run_backtest(load_config(None), market)
    report = build_report(result, 50, 1)
    for i in range(runs):
        run_id = start_run(engine, label=f"bench {i}", source=market.source, pairs=pairs,
                           timeframe="5m", span=(None, None), settings={})  # fmt: skip
        finish_run(engine, run_id, result, report)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in every VOLT table, by table name."""
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path, help="a folder for volt.db (must hold none yet)")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = the counts above")
    args = parser.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    if (args.home / "volt.db").exists():
        raise SystemExit(f"{args.home / 'volt.db'} exists: seed an empty folder")
    began = time.perf_counter()
    engine = make_engine(f"sqlite:///{args.home / 'volt.db'}")
    seed(engine, args.scale)
    print(f"seeded {args.home / 'volt.db'} in {time.perf_counter() - began:.0f} s")
    print(json.dumps(row_counts(engine), indent=1))


if __name__ == "__main__":
    main()
