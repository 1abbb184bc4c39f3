"""Page render times on a big database: `python bench/dashboard.py [--repeat 3]`.

Builds a temporary SQLite database with 100,000 trades, 100,000 decisions (three votes
each), 1,000,000 candles (5 pairs) and 20 stored backtests, by bulk inserts; then times each
page's render in AppTest (median of --repeat, after one warm-up render; Streamlit's read
cache is cleared before each timed render, so every query runs) and the trades CSV
export (the query and the CSV bytes, as the Trades page's download button builds them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = [
    "views/overview.py",
    "views/market.py",
    "views/trades.py",
    "views/agents.py",
    "views/backtest.py",
    "views/system.py",
    "views/control.py",
    "views/kill_switch.py",
]
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]
START = datetime(2024, 1, 1, tzinfo=UTC)


def fill(engine) -> None:
    from sqlalchemy import insert

    from data.store.models import Candle, Decision, Fill, Order, Trade, VoteRow

    step = timedelta(minutes=5)
    with engine.begin() as conn:
        per_pair = 200_000
        for pair in PAIRS:
            for chunk in range(0, per_pair, 50_000):
                conn.execute(
                    insert(Candle),
                    [
                        {"pair": pair, "timeframe": "5m", "ts": START + i * step, "open": 100.0,
                         "high": 101.0, "low": 99.0, "close": 100.0 + (i % 50) / 10, "volume": 5.0}
                        for i in range(chunk, chunk + 50_000)
                    ],
                )  # fmt: skip
        conn.execute(
            insert(Decision),
            [
                {"id": i + 1, "ts": START + i * step, "pair": PAIRS[i % 5],
                 "candle_ts": START + (i // 5) * step, "price": 100.0,
                 "action": ("BUY", "SELL", "HOLD")[i % 3], "score": 0.1, "threshold": 0.55,
                 "regime": "normal", "executed": i % 3 == 0, "outcome": "hold", "audit": ""}
                for i in range(100_000)
            ],
        )  # fmt: skip
        conn.execute(
            insert(VoteRow),
            [
                {"decision_id": i // 3 + 1, "agent": ("technical", "regime", "sentiment")[i % 3],
                 "action": "HOLD", "confidence": 0.4, "weight": 1.0, "source": "rule",
                 "rationale": "bench", "data": {}}
                for i in range(300_000)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Order),
            [
                {"id": i + 1, "client_order_id": f"b-{i}", "ts": START + i * step,
                 "pair": PAIRS[i % 5], "side": "buy" if i % 2 == 0 else "sell",
                 "kind": "market", "amount": 1.0, "price": 100.0, "status": "filled",
                 "reason": "signal"}
                for i in range(200_000)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Fill),
            [
                {"order_id": i + 1, "ts": START + i * step, "pair": PAIRS[i % 5],
                 "side": "buy" if i % 2 == 0 else "sell", "amount": 1.0, "price": 100.0,
                 "fee": 0.1}
                for i in range(200_000)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Trade),
            [
                {"pair": PAIRS[i % 5], "side": "long", "amount": 1.0,
                 "entry_ts": START + 2 * i * step, "entry_price": 100.0,
                 "exit_ts": START + (2 * i + 1) * step, "exit_price": 100.5, "fees": 0.2,
                 "pnl": 0.3 if i % 2 else -0.3, "pnl_pct": 0.003,
                 "exit_reason": "signal", "entry_order_id": 2 * i + 1,
                 "exit_order_id": 2 * i + 2}
                for i in range(100_000)
            ],
        )  # fmt: skip


def add_backtests(home: str) -> None:
    from config import load_config
    from data.store.db import make_engine
    from engine.backtest import run_backtest, synthetic_market
    from engine.backtest.store import finish_run, start_run

    engine = make_engine()
    settings = load_config(None)
    market = synthetic_market(1, PAIRS[:3], "5m", datetime(2026, 2, 1, tzinfo=UTC),
                              datetime(2026, 5, 1, tzinfo=UTC), 300)  # fmt: skip
    result = run_backtest(settings, market)
    for i in range(20):
        run_id = start_run(engine, label=f"bench {i}", source=market.source, pairs=PAIRS[:3],
                           timeframe="5m", span=(None, None), settings={})  # fmt: skip
        finish_run(engine, run_id, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="volt-bench-dash-") as home:
        os.environ["VOLT_HOME"] = home
        os.environ.pop("VOLT_DB_URL", None)
        import streamlit as st
        from streamlit.testing.v1 import AppTest

        from data import queries
        from data.store.db import make_engine

        began = time.perf_counter()
        engine = make_engine()
        fill(engine)
        add_backtests(home)
        print(f"database built in {time.perf_counter() - began:.0f} s")
        for page in PAGES:
            times = []
            for attempt in range(args.repeat + 1):
                app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
                app.run()
                # Time the page's own reads: nothing served from the 2-second read cache.
                st.cache_data.clear()
                began = time.perf_counter()
                if page != PAGES[0]:
                    app.switch_page(page).run()
                else:
                    app.run()
                seconds = time.perf_counter() - began
                if app.exception:
                    raise SystemExit(f"{page}: {app.exception[0].value}")
                if attempt:  # the first render warms imports and caches
                    times.append(seconds)
            median = statistics.median(times)
            flag = "ok" if median < 1 else "OVER 1 s"
            print(f"{page:<22} median {median * 1000:7.0f} ms  ({flag})")
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            data = queries.trades_csv(queries.trades(engine))
            times.append(time.perf_counter() - began)
        rows = data.count(b"\n") - 1
        print(
            f"trades CSV export, {rows:,} trades: median "
            f"{statistics.median(times):.2f} s (goal < 2 s)"
        )


if __name__ == "__main__":
    main()
