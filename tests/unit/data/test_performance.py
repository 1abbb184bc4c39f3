"""Profit by day and by pair, summed by the database, and the drawdown under the equity curve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, event

from data import queries
from data.store.db import transaction
from data.store.models import EquitySnapshot
from tests.support.performance import add_equity, add_reset, add_trades

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def test_profit_by_pair_counts_wins_sums_pnl_and_fees_and_keeps_best_and_worst(store):
    engine, factory = store
    add_trades(
        factory,
        [
            ("BTC/USDT", DAY, 30.0, 1.0),
            ("BTC/USDT", DAY + timedelta(hours=1), -10.0, 0.5),
            ("BTC/USDT", DAY + timedelta(hours=2), 5.0, 0.25),
            ("ETH/USDT", DAY, -4.0, 0.1),
        ],
    )

    pairs = queries.profit_by_pair(engine).set_index("pair")

    assert list(pairs.index) == ["BTC/USDT", "ETH/USDT"]  # most profitable first
    btc = pairs.loc["BTC/USDT"]
    assert (btc.trades, btc.wins) == (3, 2)
    assert btc.win_rate == pytest.approx(2 / 3)
    assert (btc.pnl, btc.fees, btc.best, btc.worst) == pytest.approx((25.0, 1.75, 30.0, -10.0))
    assert pairs.loc["ETH/USDT"].win_rate == 0.0


def test_profit_by_day_adds_up_each_day_of_the_dashboard_s_timezone(store):
    engine, factory = store
    add_trades(
        factory,
        [
            ("BTC/USDT", DAY + timedelta(hours=1), 10.0, 1.0),
            ("ETH/USDT", DAY + timedelta(hours=22, minutes=50), -3.0, 0.5),  # 23:50 in Paris
            ("BTC/USDT", DAY + timedelta(hours=23, minutes=10), 7.0, 0.25),  # next day there
        ],
    )

    in_utc = queries.profit_by_day(engine)
    in_paris = queries.profit_by_day(engine, ZoneInfo("Europe/Paris"))

    assert in_utc[["trades", "wins"]].values.tolist() == [[3, 2]]
    assert (in_utc.loc[0, "pnl"], in_utc.loc[0, "fees"]) == pytest.approx((14.0, 1.75))
    assert [str(d) for d in in_paris["day"]] == ["2026-03-03", "2026-03-02"]  # newest first
    assert in_paris["pnl"].tolist() == pytest.approx([7.0, 7.0])
    assert in_paris["win_rate"].tolist() == pytest.approx([1.0, 0.5])


def test_a_day_follows_daylight_saving_time(store):
    engine, factory = store
    # Paris moves from UTC+1 to UTC+2 on 2026-03-29 at 01:00 UTC.
    before = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 on the 29th, UTC+1
    after = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # 00:30 on the 30th, UTC+2
    add_trades(factory, [("BTC/USDT", before, 1.0, 0.0), ("BTC/USDT", after, 2.0, 0.0)])

    days = queries.profit_by_day(engine, ZoneInfo("Europe/Paris"))

    assert [str(d) for d in days["day"]] == ["2026-03-30", "2026-03-29"]
    assert days["pnl"].tolist() == [2.0, 1.0]


def test_performance_reads_work_on_an_empty_store(store):
    engine, _ = store
    assert queries.profit_by_day(engine).empty
    assert queries.profit_by_pair(engine).empty
    assert queries.equity_drawdown(engine).empty
    assert queries.account_resets(engine).empty


def test_drawdown_is_measured_from_the_running_peak(store):
    engine, factory = store
    add_equity(
        factory,
        [(DAY + timedelta(minutes=i), e) for i, e in enumerate([100.0, 120.0, 90.0, 130.0])],
    )

    curve = queries.equity_drawdown(engine)

    assert curve["peak"].tolist() == [100.0, 120.0, 120.0, 130.0]
    assert curve["drawdown"].tolist() == pytest.approx([0.0, 0.0, -0.25, 0.0])


def test_the_peak_starts_again_at_a_paper_account_reset(store):
    engine, factory = store
    add_equity(factory, [(DAY, 100.0), (DAY + timedelta(minutes=1), 200.0)])
    add_reset(factory, DAY + timedelta(minutes=2), 100.0)
    add_equity(factory, [(DAY + timedelta(minutes=2), 100.0), (DAY + timedelta(minutes=3), 90.0)])

    curve = queries.equity_drawdown(engine)

    assert curve["peak"].tolist() == [100.0, 200.0, 100.0, 100.0]
    assert curve["drawdown"].iloc[-1] == pytest.approx(-0.1)


def test_a_long_curve_is_thinned_to_about_the_points_asked_keeping_its_extremes(store):
    engine, factory = store
    equity = [1000.0 + (i % 97) for i in range(10_000)]
    equity[4321], equity[7777] = 5000.0, 10.0  # one spike, one crash
    add_equity(factory, [(DAY + timedelta(minutes=i), e) for i, e in enumerate(equity)])

    curve = queries.equity_drawdown(engine, points=200)

    assert len(curve) <= 200
    assert curve["equity"].max() == 5000.0 and curve["equity"].min() == 10.0
    assert curve["drawdown"].min() == pytest.approx(10.0 / 5000.0 - 1.0)
    assert curve["ts"].is_monotonic_increasing


def test_a_thinned_curve_follows_new_snapshots(store):
    engine, factory = store
    add_equity(factory, [(DAY + timedelta(minutes=i), 1000.0) for i in range(5000)])
    queries.equity_drawdown(engine, points=200)  # the finished spans are kept

    add_equity(factory, [(DAY + timedelta(minutes=5000 + i), 900.0) for i in range(700)])
    curve = queries.equity_drawdown(engine, points=200)

    assert curve["equity"].iloc[-1] == 900.0
    assert curve["drawdown"].min() == pytest.approx(-0.1)
    assert curve["ts"].is_monotonic_increasing


def test_finished_spans_are_not_read_again(store):
    engine, factory = store
    add_equity(factory, [(DAY + timedelta(minutes=i), 1000.0 + i) for i in range(5000)])
    queries.equity_drawdown(engine, points=200)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2:4]))

    queries.equity_drawdown(engine, points=200)

    [params] = [p for sql, p in statements if "GROUP BY" in sql]
    assert max(v for v in _values(params) if isinstance(v, int)) >= 4900  # id >= ...


def _values(params) -> list:
    return list(params.values()) if isinstance(params, dict) else list(params)


def test_a_replaced_store_is_not_shown_from_memory(store):
    engine, factory = store
    add_equity(factory, [(DAY + timedelta(minutes=i), 1000.0) for i in range(5000)])
    queries.equity_drawdown(engine, points=200)
    with transaction(factory) as session:
        session.execute(delete(EquitySnapshot))
    add_equity(factory, [(DAY + timedelta(minutes=i), 2000.0) for i in range(5000)])

    curve = queries.equity_drawdown(engine, points=200)

    assert set(curve["equity"]) == {2000.0}


def test_profit_since_a_time_leaves_out_earlier_exits(store):
    engine, factory = store
    add_trades(
        factory,
        [("BTC/USDT", DAY, 30.0, 1.0), ("BTC/USDT", DAY + timedelta(days=1), -4.0, 0.5)],
    )
    since = DAY + timedelta(hours=12)

    days = queries.profit_by_day(engine, ZoneInfo("Europe/Paris"), since)
    pairs = queries.profit_by_pair(engine, since)

    assert days["pnl"].tolist() == [-4.0] and pairs["pnl"].tolist() == [-4.0]
