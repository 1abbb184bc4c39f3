"""`engine run --speed` over a simulated day trades, charges costs, and reconciles to the cent."""

import pytest
from sqlalchemy import func, select

from config import load_config
from data.store.db import as_utc, make_engine, make_session_factory
from data.store.models import Decision, EquitySnapshot, Fill, Order, Position, Trade, VoteRow
from engine.venues.paper import PaperBalance, PaperOrder, make_exchange_factory
from engine.venues.synthetic import SyntheticFeed
from tests.support.runs import run_engine


@pytest.fixture(scope="module")
def simulated_day(tmp_path_factory):
    """One real worker process running about a market day at 7200x."""
    home = tmp_path_factory.mktemp("day")
    result = run_engine("run", "--speed", "7200", "--for", "13", VOLT_HOME=str(home))
    assert result.returncode == 0, result.stderr[-3000:]
    engine = make_engine(f"sqlite:///{home / 'volt.db'}")
    exchange = make_exchange_factory(f"sqlite:///{home / 'paper-exchange.db'}")
    yield make_session_factory(engine), exchange
    engine.dispose()


def exchange_cash(exchange) -> float:
    with exchange() as session:
        return session.get(PaperBalance, "USDT").total


def test_a_simulated_day_produces_decisions_orders_trades_and_equity(simulated_day):
    volt, _ = simulated_day
    with volt() as session:
        decisions = session.scalar(select(func.count(Decision.id)))
        votes = session.scalar(select(func.count(VoteRow.id)))
        orders = session.scalar(select(func.count(Order.id)))
        trades = session.scalar(select(func.count(Trade.id)))
        snapshots = session.scalar(select(func.count(EquitySnapshot.id)))
        first, last = session.execute(
            select(func.min(Decision.candle_ts), func.max(Decision.candle_ts))
        ).one()
    assert (last - first).total_seconds() >= 20 * 3600, "less than 20 market hours ran"
    # At 7200x a busy machine cannot decide on every candle: the worker then decides on the
    # latest one (stops still see every candle). A day's worth of decisions is the point.
    assert decisions >= 3 * 100
    team = sum(1 for w in load_config().agents.weights.values() if w > 0)
    assert votes == decisions * team  # every agent's vote on every decision, reasoning kept
    assert orders >= 2
    assert trades >= 1
    assert snapshots >= 200


def test_fills_carry_slippage_and_fees(simulated_day):
    settings = load_config()
    slip, fee_rate = settings.broker.slippage_rate, settings.broker.fee_rate
    volt, _ = simulated_day
    with volt() as session:
        rows = session.execute(select(Order, Fill).join(Fill, Fill.order_id == Order.id)).all()
    assert rows
    for order, fill in rows:
        expected = order.price * (1 + slip if order.side == "buy" else 1 - slip)
        assert fill.price == pytest.approx(expected, rel=1e-12)
        assert fill.fee == pytest.approx(fill.amount * fill.price * fee_rate, rel=1e-12)
        assert fill.fee > 0


def test_cash_and_positions_reconcile_with_the_trade_log_to_the_cent(simulated_day):
    settings = load_config()
    volt, exchange = simulated_day
    cash = exchange_cash(exchange)
    with volt() as session:
        realised = session.scalar(select(func.coalesce(func.sum(Trade.pnl), 0.0)))
        positions = session.scalars(select(Position)).all()
        fills = session.scalars(select(Fill)).all()
    # Cash is the starting capital, plus every closed trade's P&L, less what open ones cost.
    open_cost = sum(p.amount * p.entry_price + p.entry_fee for p in positions)
    assert round(cash, 2) == round(settings.broker.starting_capital + realised - open_cost, 2)
    # And the same cash follows from the fills alone.
    flows = sum((-1 if f.side == "buy" else 1) * f.amount * f.price - f.fee for f in fills)
    assert round(cash, 2) == round(settings.broker.starting_capital + flows, 2)


def test_equity_snapshot_equals_cash_plus_marked_positions(simulated_day):
    volt, exchange = simulated_day
    cash = exchange_cash(exchange)
    with volt() as session:
        snapshot = session.scalars(
            select(EquitySnapshot).order_by(EquitySnapshot.id.desc())
        ).first()
        positions = session.scalars(select(Position)).all()
    feed = SyntheticFeed(load_config().feed.seed, "5m")
    marked = 0.0
    for position in positions:
        candles = feed.candles(position.pair, as_utc(snapshot.ts), 1)
        marked += position.amount * float(candles["close"].iloc[-1])
    assert round(snapshot.cash, 2) == round(cash, 2)
    assert round(snapshot.equity, 2) == round(cash + marked, 2)


def test_every_exchange_order_is_recorded_once_by_the_engine(simulated_day):
    volt, exchange = simulated_day
    with exchange() as session:
        at_exchange = sorted(session.scalars(select(PaperOrder.client_order_id)))
    with volt() as session:
        recorded = sorted(session.scalars(select(Order.client_order_id)))
    assert at_exchange == recorded
    assert len(set(recorded)) == len(recorded)
