"""Properties over random price paths and random decision streams: position size, exposure
and drawdown limits hold at every step, stops close at or beyond the stop price, cash never
goes negative, and every rejection says why."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from data.models import Decision, EquitySnapshot, Order, Position, Rejection, Trade
from data.types import OpenPosition, PortfolioView
from engine.wiring import build_gate
from risk import ClosedTrade, OrderIntent, RiskContext, RiskRejection
from risk.protections import STOP_OUTS
from risk.stops import stop_exit, stop_reason, trail
from tests.scripted import START, STEP, scripted_settings, scripted_trader, with_protections

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
SLIP, FEE = 0.0005, 0.001
EPS = 1e-9


def risk_settings(trailing: float):
    base = scripted_settings(trailing_stop_atr_multiple=trailing, max_total_exposure=0.6)
    # The daily loss limit off, so the drawdown limit is the one that binds.
    return with_protections(
        base, max_drawdown=0.10, drawdown_pause_hours=1000, daily_loss_limit=1.0, losing_streak=100
    )


def limits_hold(call, equity_peak: float) -> None:
    """What every approved entry must satisfy, whatever led to it."""
    intent, book, approved = call
    cfg = risk_settings(0.0).risk
    unit_cost = intent.price * (1 + SLIP) * (1 + FEE)
    cost = approved.amount * unit_cost
    assert cost <= cfg.max_position_fraction * book.equity * (1 + EPS)
    exposure_after = (book.equity - book.cash) + approved.amount * intent.price
    assert exposure_after <= cfg.max_total_exposure * book.equity * (1 + EPS)
    assert cost <= book.cash
    assert 1 - book.equity / max(equity_peak, book.equity) < cfg.protections.max_drawdown
    assert approved.stop_loss < intent.price < approved.take_profit


def rejection_says_why(rejection: RiskRejection) -> None:
    assert str(rejection).strip()
    for block in rejection.blocks:
        assert block.reason.strip() and block.clears.strip()


# --- the gate and the stops, over a simulated book ----------------------------------------
decision = st.tuples(
    st.sampled_from(PAIRS),
    st.sampled_from(["buy", "buy", "buy", "sell", "hold"]),
    st.floats(0.001, 0.05),  # ATR as a fraction of the price
    st.sampled_from(["normal", "high_volatility", "crash"]),
)
step = st.tuples(
    # each pair's return this candle: mostly calm, now and then a gap
    st.lists(st.one_of(st.floats(-0.01, 0.01), st.floats(-0.2, 0.2)), min_size=3, max_size=3),
    st.floats(0.0, 0.01),  # wick
    decision,
)


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(step, min_size=5, max_size=80),
    trailing=st.sampled_from([0.0, 1.5]),
    past_peak=st.floats(10_000.0, 12_000.0),  # the account may start below an earlier high
)
def test_limits_hold_over_random_paths_and_decisions(steps, trailing, past_peak):
    gate = build_gate(risk_settings(trailing))
    cash = 10_000.0
    prices = dict.fromkeys(PAIRS, 100.0)
    positions: dict[str, dict] = {}
    trades: list[ClosedTrade] = []
    entries: list = []
    peak = past_peak
    for t, (returns, wick, (pair, action, atr_fraction, regime)) in enumerate(steps):
        now = START + t * STEP
        for name, change in zip(PAIRS, returns, strict=True):
            open_, close = prices[name], prices[name] * (1 + change)
            high, low = max(open_, close) * (1 + wick), min(open_, close) * (1 - wick)
            prices[name] = close
            held = positions.get(name)
            if held is None:
                continue
            hit = stop_exit(open_, high, low, held["stop"], held["target"])
            if low <= held["stop"]:  # a stop touched always closes, at or below the stop
                assert hit is not None and hit[1] == "stop_loss" and hit[0] <= held["stop"]
            if hit is None:
                if held["trail"]:
                    held["stop"], held["peak"] = trail(
                        held["stop"], held["peak"], held["trail"], high
                    )
                continue
            price, reason = hit
            if reason == "stop_loss":
                assert price <= held["stop"]  # at or beyond the stop, never better
                reason = stop_reason(held["stop"], held["entry"], held["peak"], held["trail"])
            proceeds = held["amount"] * price * (1 - SLIP) * (1 - FEE)
            cash += proceeds
            trades.append(ClosedTrade(name, now, proceeds - held["cost"], reason))
            del positions[name]
        value = {name: p["amount"] * prices[name] for name, p in positions.items()}
        equity = cash + sum(value.values())
        book = PortfolioView(
            equity,
            cash,
            {
                name: OpenPosition(name, p["amount"], p["entry"], 0.0, p["stop"], p["target"])
                for name, p in positions.items()
            },
        )
        context = RiskContext(
            now=now,
            equity=equity,
            exposure=sum(value.values()),
            pair_exposure=value,
            peak_equity=peak,
            day_start_equity=10_000.0,
            recent_trades=tuple(trades[-50:]),
            recent_entries=tuple(entries),
        )
        price = prices[pair]
        intent = OrderIntent(
            pair, action, price, f"{t}", "signal", price * atr_fraction, None, regime
        )
        if action == "buy":
            try:
                approved = gate.approve(intent, book, context)
            except RiskRejection as rejection:
                rejection_says_why(rejection)
            else:
                assert pair not in positions
                limits_hold((intent, book, approved), peak)
                cost = approved.amount * price * (1 + SLIP) * (1 + FEE)
                positions[pair] = {
                    "amount": approved.amount,
                    "entry": price * (1 + SLIP),
                    "stop": approved.stop_loss,
                    "target": approved.take_profit,
                    "trail": approved.trail_distance,
                    "peak": price * (1 + SLIP),
                    "cost": cost,
                }
                cash -= cost
                entries.append(now)
        elif action == "sell" and pair in positions:
            approved = gate.approve(intent, book, context)  # exits always pass
            assert approved.amount == positions[pair]["amount"]
            cash += approved.amount * price * (1 - SLIP) * (1 - FEE)
            trades.append(ClosedTrade(pair, now, 0.0, "signal"))
            del positions[pair]
        assert cash >= 0
        peak = max(peak, cash + sum(p["amount"] * prices[n] for n, p in positions.items()))


# --- the same, through the real engine: trader, paper broker, SQLite ------------------------
class GateSpy:
    """Records every entry the gate approved, with the book it was judged on."""

    def __init__(self, gate) -> None:
        self.gate, self.approved, self.rejected = gate, [], []

    def approve(self, intent, book, context=None):
        try:
            result = self.gate.approve(intent, book, context)
        except RiskRejection as rejection:
            self.rejected.append(rejection)
            raise
        if intent.side == "buy":
            self.approved.append((intent, book, result))
        return result

    def __getattr__(self, name):
        return getattr(self.gate, name)


candles = 45
path = st.lists(st.floats(-0.06, 0.06), min_size=candles, max_size=candles)
votes = st.lists(st.sampled_from([1, 1, 0, -1]), min_size=candles, max_size=candles)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    returns=st.tuples(path, path), script=st.tuples(votes, votes), trailing=st.sampled_from([0, 1])
)
def test_the_engine_keeps_the_limits_on_random_markets(returns, script, trailing):
    closes = {}
    for pair, changes in zip(PAIRS[:2], returns, strict=True):
        price, closes[pair] = 100.0, []
        for change in changes:
            price *= 1 + change
            closes[pair].append(price)
    with tempfile.TemporaryDirectory() as home:
        trader, clock = scripted_trader(
            Path(home),
            closes,
            dict(zip(PAIRS[:2], script, strict=True)),
            risk_settings(float(trailing)),
        )
        spy = trader.gate = GateSpy(trader.gate)
        checked = 0
        for _ in range(candles - 1):
            with trader.factory() as session:
                stops = {p.pair: p.stop_loss for p in session.scalars(select(Position))}
                snapshots = session.scalars(select(EquitySnapshot.equity)).all()
                known_trades = set(session.scalars(select(Trade.id)))
            trader.tick()
            clock.advance(STEP.total_seconds())
            assert trader.broker.cash() >= 0
            peak = max([10_000.0, *snapshots])
            for call in spy.approved[checked:]:
                limits_hold(call, peak)
            checked = len(spy.approved)
            with trader.factory() as session:
                new_trades = session.execute(
                    select(Trade, Order)
                    .join(Order, Order.id == Trade.exit_order_id)
                    .where(Trade.id.not_in(known_trades))
                ).all()
            stopped = set()
            for trade, exit_order in new_trades:
                if trade.exit_reason in STOP_OUTS:
                    assert exit_order.price <= stops[trade.pair] + EPS  # requested: at the stop
                    assert trade.exit_price <= stops[trade.pair]  # filled: slipped beyond it
                    stopped.add(trade.pair)
            candle = int((clock.now() - START) / STEP) - 2  # the one this tick closed
            for pair, stop in stops.items():
                if trader.feed.frames[pair]["low"].iloc[candle] <= stop:
                    assert pair in stopped, f"{pair} touched its stop {stop} and stayed open"
        for rejection in spy.rejected:
            rejection_says_why(rejection)
        with trader.factory() as session:
            assert all(r.reason.strip() for r in session.scalars(select(Rejection)))
            unexecuted = session.scalars(select(Decision).where(Decision.executed.is_(False)))
            assert all(d.outcome.strip() for d in unexecuted)
        trader.factory.kw["bind"].dispose()
