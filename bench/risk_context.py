"""What the risk context costs per decision on a long-lived database:
`python bench/risk_context.py [--snapshots 500000] [--rejections 200000]`.

Fills a temporary SQLite store with equity snapshots (one a minute) and risk rejections,
then times `risk_context`, which the engine reads inside every entry's transaction and
once a tick for the protections. The first call after the fill is timed apart: it is the
one that may have to scan the history (a stored high-water mark is then kept up to date).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from data.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from data.store.models import EquitySnapshot, Rejection  # noqa: E402
from data.store.state import update_state  # noqa: E402
from data.types import PortfolioView  # noqa: E402
from engine.trading.risk_records import risk_context  # noqa: E402

BATCH = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=500_000)
    parser.add_argument("--rejections", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as home:
        engine = make_engine(f"sqlite:///{Path(home) / 'volt.db'}")
        factory = make_session_factory(engine)
        with engine.begin() as conn:
            for first in range(0, args.snapshots, BATCH):
                rows = range(first, min(args.snapshots, first + BATCH))
                conn.execute(
                    insert(EquitySnapshot),
                    [
                        {
                            "ts": start + timedelta(minutes=i),
                            "equity": 10_000 + (i % 997),
                            "cash": 1.0,
                            "positions_value": 0.0,
                        }
                        for i in rows
                    ],
                )
            for first in range(0, args.rejections, BATCH):
                rows = range(first, min(args.rejections, first + BATCH))
                conn.execute(
                    insert(Rejection),
                    [
                        {
                            "ts": start + timedelta(minutes=i),
                            "pair": "BTC/USDT",
                            "side": "buy",
                            "source": "risk",
                            "reason": "max_drawdown: equity too far below its peak",
                        }
                        for i in rows
                    ],
                )
        now = start + timedelta(minutes=args.snapshots)
        update_state(factory, market_time=now)  # the engine's state row always exists
        view = PortfolioView(10_000.0, 10_000.0, {})
        began = time.perf_counter()
        with transaction(factory) as session:  # as the engine reads it: in a write unit
            risk_context(session, view, {}, now)
        first = time.perf_counter() - began
        began = time.perf_counter()
        for _ in range(args.repeat):
            with transaction(factory) as session:
                context = risk_context(session, view, {}, now)
        each = (time.perf_counter() - began) / args.repeat
        print(
            f"{args.snapshots} equity snapshots, {args.rejections} rejections: "
            f"risk_context first call {first * 1000:.1f} ms, then {each * 1000:.1f} ms per call "
            f"(peak {context.peak_equity:,.0f})"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
