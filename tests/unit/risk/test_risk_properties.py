"""Properties over random price paths and random decision streams: position size, exposure
and drawdown limits hold at every step, stops close at or beyond the stop price, cash never
goes negative, and every rejection says why."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, event, example, given, settings, target
from hypothesis import strategies as st
from sqlalchemy import select

from data.store.db import transaction
from data.store.models import Decision, EquitySnapshot, Order, Position, Rejection, Trade
from data.types import OpenPosition, PortfolioView
from engine.wiring import build_gate
from risk import ClosedTrade, OrderIntent, RiskContext, RiskRejection
from risk.protections import STOP_OUTS
from risk.stops import stop_exit, stop_reason, trail
from tests.support.scripted import START, STEP, scripted_settings, scripted_trader, with_protections

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
SLIP, FEE = 0.0005, 0.001
EPS = 1e-9


def risk_settings(trailing: float):
    # Three pairs at up to 35% each: the 60% total exposure limit binds at the second entry.
    base = scripted_settings(
        trailing_stop_atr_multiple=trailing,
        max_total_exposure=0.6,
        max_position_fraction=0.35,
        max_open_positions=3,
    )
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


def exposure_bound(call) -> bool:
    """Did the total exposure limit, not risk or the position cap, set this entry's size?"""
    intent, book, approved = call
    exposure_after = (book.equity - book.cash) + approved.amount * intent.price
    return exposure_after >= 0.6 * book.equity / ((1 + SLIP) * (1 + FEE)) * (1 - 1e-6)


def rejection_says_why(rejection: RiskRejection) -> None:
    assert str(rejection).strip()
    for block in rejection.blocks:
        assert block.reason.strip() and block.clears.strip()


def observe(seen: Counter, rejection: RiskRejection) -> None:
    seen["rejected"] += 1
    for block in rejection.blocks:
        seen[f"blocked by {block.protection}"] += 1


# --- the gate and the stops, over a simulated book ----------------------------------------
CALM = (0.0, 0.0)
decision = st.tuples(
    st.sampled_from(PAIRS),
    st.sampled_from(["buy", "buy", "buy", "sell", "hold"]),
    st.floats(0.001, 0.05),  # ATR as a fraction of the price
    st.sampled_from(["normal", "high_volatility", "crash"]),
)
move = st.tuples(
    # the gap from the last close to this open: mostly none, now and then a big one
    st.one_of(st.just(0.0), st.just(0.0), st.floats(-0.2, 0.05)),
    # then open to close: mostly calm, now and then wild
    st.one_of(st.floats(-0.01, 0.01), st.floats(-0.2, 0.2)),
)
step = st.tuples(
    st.lists(move, min_size=3, max_size=3),  # one move per pair
    st.floats(0.0, 0.01),  # wick
    decision,
)


def buy(pair: str, atr: float = 0.01, moves=(CALM, CALM, CALM)):
    return (list(moves), 0.0, (pair, "buy", atr, "normal"))


def gap(pair: str, change: float):
    moves = [(change, 0.0) if name == pair else CALM for name in PAIRS]
    return (moves, 0.0, (pair, "hold", 0.01, "normal"))


# Handpicked paths, so every run reaches the cases random ones only sometimes do.
EXPOSURE_AND_GAP = [
    buy("BTC/USDT"),  # 35% of equity: the position cap
    buy("ETH/USDT"),  # cut to the 25% left under the 60% total
    buy("SOL/USDT"),  # no room left: blocked by max_exposure
    gap("BTC/USDT", -0.2),  # opens 20% down, far through its 2% stop: fills at the open
    buy("SOL/USDT", moves=[CALM, CALM, CALM]),
]
DRAWDOWN = [buy("BTC/USDT"), buy("ETH/USDT")]  # 10,000 against a 12,000 peak: 17% down


def simulate(steps, trailing: float, past_peak: float) -> Counter:
    """Trade `steps` through the gate and the stops, checking every limit at every step;
    returns what happened, so a test can tell which cases were reached."""
    seen: Counter = Counter()
    gate = build_gate(risk_settings(trailing))
    cash = 10_000.0
    prices = dict.fromkeys(PAIRS, 100.0)
    positions: dict[str, dict] = {}
    trades: list[ClosedTrade] = []
    entries: list = []
    peak = past_peak
    for t, (moves, wick, (pair, action, atr_fraction, regime)) in enumerate(steps):
        now = START + t * STEP
        for name, (gap_, change) in zip(PAIRS, moves, strict=True):
            open_ = prices[name] * (1 + gap_)
            close = open_ * (1 + change)
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
            seen[f"exit by {reason}"] += 1
            if reason == "stop_loss":
                assert price <= held["stop"]  # at or beyond the stop, never better
                if open_ < held["stop"]:
                    seen["gap through the stop"] += 1
                    assert price == open_  # the gap's open, not the stop it jumped over
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
                observe(seen, rejection)
            else:
                assert pair not in positions
                limits_hold((intent, book, approved), peak)
                seen["approved"] += 1
                if exposure_bound((intent, book, approved)):
                    seen["entry cut to the total exposure limit"] += 1
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
        exposure = sum(p["amount"] * prices[n] for n, p in positions.items())
        seen["most exposure"] = max(seen["most exposure"], round(100 * exposure / equity))
        peak = max(peak, cash + exposure)
    return seen


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(step, min_size=5, max_size=80),
    trailing=st.sampled_from([0.0, 1.5]),
    past_peak=st.floats(10_000.0, 12_000.0),  # the account may start below an earlier high
)
@example(steps=EXPOSURE_AND_GAP, trailing=0.0, past_peak=10_000.0)
@example(steps=DRAWDOWN, trailing=1.5, past_peak=12_000.0)
def test_limits_hold_over_random_paths_and_decisions(steps, trailing, past_peak):
    seen = simulate(steps, trailing, past_peak)
    for case in seen:  # shown by --hypothesis-show-statistics
        if case != "most exposure":
            event(case)
    target(float(seen["most exposure"]), label="most exposure, % of equity")


def test_the_handpicked_paths_reach_gaps_the_exposure_limit_and_drawdown():
    seen = simulate(EXPOSURE_AND_GAP, 0.0, 10_000.0)
    assert seen["entry cut to the total exposure limit"] >= 1
    assert seen["blocked by max_exposure"] == 1
    assert seen["gap through the stop"] == 1
    assert seen["approved"] == 3  # the last SOL buy fits again once BTC is gone
    drawdown = simulate(DRAWDOWN, 1.5, 12_000.0)
    assert drawdown["blocked by max_drawdown"] == 2 and drawdown["approved"] == 0


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

    def check_entry(self, intent, book, context):
        """The trader sorting decisions: a refusal counts, a pass approves nothing."""
        try:
            self.gate.check_entry(intent, book, context)
        except RiskRejection as rejection:
            self.rejected.append(rejection)
            raise

    def __getattr__(self, name):
        return getattr(self.gate, name)


candles = 45
path = st.lists(st.floats(-0.06, 0.06), min_size=candles, max_size=candles)
gaps = st.lists(
    st.one_of(st.just(0.0), st.just(0.0), st.just(0.0), st.floats(-0.12, 0.03)),
    min_size=candles,
    max_size=candles,
)
votes = st.lists(st.sampled_from([1, 1, 0, -1]), min_size=candles, max_size=candles)


def gapped(frame, gaps: list[float], wick: float = 0.002):
    """Candle i opens `gaps[i]` away from the last close (the path's feed opens at it)."""
    frame = frame.copy()
    opens = frame["close"].shift(1).fillna(frame["close"].iloc[0]) * (1 + pd.Series(gaps).values)
    frame["open"] = opens
    frame["high"] = frame[["open", "close"]].max(axis=1) * (1 + wick)
    frame["low"] = frame[["open", "close"]].min(axis=1) * (1 - wick)
    return frame


def run_engine(returns, gap_paths, script, trailing: int, past_peak: float | None) -> Counter:
    """The real trader on a scripted market, with the limits checked at every tick;
    returns what happened, so a test can tell which cases were reached."""
    seen: Counter = Counter()
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
        for pair, pair_gaps in zip(PAIRS[:2], gap_paths, strict=True):
            trader.feed.frames[pair] = gapped(trader.feed.frames[pair], pair_gaps)
        if past_peak is not None:  # an earlier high the account starts below
            with transaction(trader.factory) as session:
                session.add(
                    EquitySnapshot(
                        ts=START - STEP, equity=past_peak, cash=past_peak, positions_value=0.0
                    )
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
                seen["approved"] += 1
                if exposure_bound(call):
                    seen["entry cut to the total exposure limit"] += 1
            checked = len(spy.approved)
            with trader.factory() as session:
                new_trades = session.execute(
                    select(Trade, Order)
                    .join(Order, Order.id == Trade.exit_order_id)
                    .where(Trade.id.not_in(known_trades))
                ).all()
            stopped = set()
            candle = int((clock.now() - START) / STEP) - 2  # the one this tick closed
            for trade, exit_order in new_trades:
                seen[f"exit by {trade.exit_reason}"] += 1
                if trade.exit_reason in STOP_OUTS:
                    assert exit_order.price <= stops[trade.pair] + EPS  # requested: at the stop
                    assert trade.exit_price <= stops[trade.pair]  # filled: slipped beyond it
                    stopped.add(trade.pair)
                    if trader.feed.frames[trade.pair]["open"].iloc[candle] < stops[trade.pair]:
                        seen["gap through the stop"] += 1
            for pair, stop in stops.items():
                if trader.feed.frames[pair]["low"].iloc[candle] <= stop:
                    assert pair in stopped, f"{pair} touched its stop {stop} and stayed open"
        for rejection in spy.rejected:
            rejection_says_why(rejection)
            observe(seen, rejection)
        with trader.factory() as session:
            assert all(r.reason.strip() for r in session.scalars(select(Rejection)))
            unexecuted = session.scalars(select(Decision).where(Decision.executed.is_(False)))
            assert all(d.outcome.strip() for d in unexecuted)
        trader.factory.kw["bind"].dispose()
    return seen


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    returns=st.tuples(path, path),
    gap_paths=st.tuples(gaps, gaps),
    script=st.tuples(votes, votes),
    trailing=st.sampled_from([0, 1]),
    past_peak=st.sampled_from([None, 10_300.0, 10_800.0]),
)
def test_the_engine_keeps_the_limits_on_random_markets(
    returns, gap_paths, script, trailing, past_peak
):
    seen = run_engine(returns, gap_paths, script, trailing, past_peak)
    for case in seen:  # shown by --hypothesis-show-statistics
        event(case)


def test_the_engine_on_a_handpicked_market_reaches_gaps_exposure_and_drawdown():
    """Both pairs bought together (the second cut to the 60% total), BTC gapping 20% down
    through its stop, then a drawdown from an earlier 10,600 high blocking the next buys."""
    flat = [0.001] * candles
    btc_gaps = [0.0] * candles
    btc_gaps[26] = -0.2
    buy_at_20 = [0] * 20 + [1] + [0] * (candles - 21)
    buy_again = [0] * 20 + [1] + [0] * 9 + [1] * (candles - 30)
    seen = run_engine(
        (flat, flat), (btc_gaps, [0.0] * candles), (buy_again, buy_at_20), 0, 10_600.0
    )
    assert seen["approved"] == 2
    assert seen["entry cut to the total exposure limit"] == 1
    assert seen["gap through the stop"] == 1 and seen["exit by stop_loss"] == 1
    assert seen["blocked by max_drawdown"] >= 1
