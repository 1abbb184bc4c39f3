"""Each protection blocks entries when its question says so, says why and when it clears, and
lets go when that time comes. Locks are stored and outlive a restart; exits are never blocked."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from data.store.db import transaction
from data.store.models import EquitySnapshot, ProtectionLock, Rejection
from data.types import OpenPosition, PortfolioView
from engine.trading.book import portfolio_view
from engine.trading.risk_records import risk_context, sync_locks
from engine.venues.errors import PermanentError, TemporaryError
from engine.wiring import build_gate
from risk import OrderIntent, RiskRejection
from risk.protections import (
    ClosedTrade,
    DailyLossLimit,
    KillSwitch,
    LosingStreak,
    MaxDrawdown,
    MaxExposure,
    MaxTradesPerHour,
    RejectionBreaker,
    RiskContext,
    StopOutCooldown,
)
from risk.stops import stop_exit, stop_reason, trail
from tests.support.scripted import scripted_settings, scripted_trader, with_protections

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def context(**values) -> RiskContext:
    return RiskContext(now=NOW, pair="BTC/USDT", equity=10_000.0, **values)


def loss(pair="BTC/USDT", minutes_ago=10, reason="signal", pnl=-50.0) -> ClosedTrade:
    return ClosedTrade(pair, NOW - minutes_ago * MIN, pnl, reason)


# --- each rule: trigger, reason, expiry ---------------------------------------------------
def test_max_drawdown_blocks_at_the_limit_for_the_pause():
    rule = MaxDrawdown(0.10, timedelta(hours=24))
    assert rule.check(context(peak_equity=11_000.0)) is None  # 9.1% down
    block = rule.check(context(peak_equity=11_200.0))  # 10.7% down
    assert block.protection == "max_drawdown" and block.pair is None
    assert "10.7% below its peak 11,200.00 (limit 10%)" in block.reason
    assert block.until == NOW + timedelta(hours=24)
    assert "2026-03-03 12:00 UTC" in block.clears


def test_daily_loss_limit_blocks_until_midnight_utc():
    rule = DailyLossLimit(0.05)
    assert rule.check(context(day_start_equity=10_400.0)) is None
    block = rule.check(context(day_start_equity=10_600.0))
    assert "down 5.7% today (600.00; limit 5%)" in block.reason
    assert block.until == datetime(2026, 3, 3, tzinfo=UTC)


def test_losing_streak_cools_down_after_n_losses_in_a_row():
    rule = LosingStreak(3, timedelta(hours=2))
    two = (loss(minutes_ago=30), loss(minutes_ago=20))
    assert rule.check(context(recent_trades=two)) is None
    win_between = (loss(minutes_ago=40), loss(pnl=5.0, minutes_ago=30), *two)
    assert rule.check(context(recent_trades=win_between)) is None
    block = rule.check(context(recent_trades=(loss(minutes_ago=40), *two)))
    assert "the last 3 trades all lost (-150.00)" in block.reason
    assert block.until == NOW - 20 * MIN + timedelta(hours=2)
    expired = context(
        recent_trades=(loss(minutes_ago=200), loss(minutes_ago=180), loss(minutes_ago=130))
    )
    assert rule.check(expired) is None


def test_kill_switch_and_manual_closes_do_not_count_toward_a_losing_streak():
    rule = LosingStreak(3, timedelta(hours=2))
    forced = (
        loss(minutes_ago=50),
        loss("BTC/USDT", 40, "kill_switch"),
        loss("ETH/USDT", 35, "manual"),
        loss(minutes_ago=30),
    )
    assert rule.check(context(recent_trades=forced)) is None  # two of the strategy's own
    third = (*forced, loss(minutes_ago=20))
    assert "the last 3 trades all lost" in rule.check(context(recent_trades=third)).reason


def test_stop_out_cooldown_blocks_only_that_pair_and_expires():
    rule = StopOutCooldown(timedelta(minutes=60))
    stopped = (loss("ETH/USDT", 10, "stop_loss"), loss("BTC/USDT", 30, "take_profit"))
    assert rule.check(context(recent_trades=stopped)) is None  # BTC's last exit was no stop
    block = rule.check(replace_pair(context(recent_trades=stopped), "ETH/USDT"))
    assert block.pair == "ETH/USDT" and block.until == NOW + 50 * MIN
    assert "hit its stop loss" in block.reason
    trailing = (loss("BTC/USDT", 61, "trailing_stop"),)
    assert rule.check(context(recent_trades=trailing)) is None  # 60 min are over


def test_max_exposure_blocks_when_no_room_is_left():
    rule = MaxExposure(0.6, 10.0)
    assert rule.check(context(exposure=5_900.0)) is None
    block = rule.check(context(exposure=5_995.0))
    assert "60% of equity is in open positions (limit 60%)" in block.reason
    assert block.until is None and "position closes" in block.clears


def test_max_trades_per_hour_clears_when_the_oldest_ages_out():
    rule = MaxTradesPerHour(3)
    entries = tuple(NOW - m * MIN for m in (70, 50, 20, 5))
    assert rule.check(context(recent_entries=entries[:3])) is None  # 70 min ago is out
    block = rule.check(context(recent_entries=entries))
    assert "3 entries in the last hour (limit 3)" in block.reason
    assert block.until == NOW - 50 * MIN + timedelta(hours=1)


def test_rejection_breaker_trips_on_a_burst_and_cools_down():
    rule = RejectionBreaker(3, timedelta(minutes=30), timedelta(minutes=60))
    spread = tuple(NOW - m * MIN for m in (100, 60, 20))
    assert rule.check(context(recent_rejections=spread)) is None
    burst = tuple(NOW - m * MIN for m in (25, 15, 5))
    block = rule.check(context(recent_rejections=burst))
    assert "3 orders refused or not placed within 30 min (limit 3)" in block.reason
    assert block.until == NOW + 55 * MIN
    old_burst = tuple(NOW - m * MIN for m in (85, 75, 65))
    assert rule.check(context(recent_rejections=old_burst)) is None


def test_kill_switch_blocks_from_the_press_until_re_armed():
    rule = KillSwitch()
    assert rule.check(context()) is None
    assert "kill switch was pressed" in rule.check(context(kill_pending=True)).reason
    halted = rule.check(context(halted=True, halt_reason="crash loop"))
    assert "halted (crash loop)" in halted.reason and "re-armed" in halted.clears


def replace_pair(ctx: RiskContext, pair: str) -> RiskContext:
    from dataclasses import replace

    return replace(ctx, pair=pair)


# --- the gate -----------------------------------------------------------------------------
def test_the_gate_rejects_entries_with_every_block_but_never_exits():
    gate = build_gate(scripted_settings())
    held = OpenPosition("BTC/USDT", 1.0, 100.0, 0.1, 98.0, 103.0)
    book = PortfolioView(10_000.0, 9_900.0, {"BTC/USDT": held})
    ctx = RiskContext(now=NOW, equity=10_000.0, kill_pending=True, peak_equity=20_000.0)
    with pytest.raises(RiskRejection) as rejected:
        gate.approve(OrderIntent("ETH/USDT", "buy", 50.0, "e", "signal", atr=1.0), book, ctx)
    names = [b.protection for b in rejected.value.blocks]
    assert names == ["kill_switch", "max_drawdown"]
    assert str(rejected.value).startswith("ETH/USDT: kill_switch: the kill switch was pressed")
    sell = OrderIntent("BTC/USDT", "sell", 90.0, "s", "manual")
    assert gate.approve(sell, book, ctx).approved  # exits always pass


def test_a_stored_lock_answers_for_its_rule_until_it_ends():
    gate = build_gate(scripted_settings())
    stored = MaxDrawdown(0.15, timedelta(hours=1)).check(
        RiskContext(now=NOW, equity=8_000.0, peak_equity=10_000.0)
    )
    book = PortfolioView(10_000.0, 10_000.0, {})
    intent = OrderIntent("BTC/USDT", "buy", 100.0, "b", "signal", atr=1.0)
    recovered = RiskContext(now=NOW + 30 * MIN, equity=10_000.0, locks=(stored,))
    with pytest.raises(RiskRejection, match="max_drawdown: equity 8,000.00 is 20.0% below"):
        gate.approve(intent, book, recovered)
    later = RiskContext(now=NOW + 61 * MIN, equity=10_000.0, locks=(stored,))
    assert gate.approve(intent, book, later).approved


# --- stops --------------------------------------------------------------------------------
def test_stops_are_tighter_in_wild_regimes():
    gate = build_gate(scripted_settings(regime_stop_scale={"high_volatility": 0.75, "crash": 0.5}))
    assert gate.protective_levels(100.0, 2.0, "normal") == (96.0, 106.0)
    assert gate.protective_levels(100.0, 2.0, "high_volatility") == (97.0, 104.5)
    assert gate.protective_levels(100.0, 2.0, "crash") == (98.0, 103.0)
    book = PortfolioView(10_000.0, 10_000.0, {})
    intent = OrderIntent("BTC/USDT", "buy", 100.0, "b", "signal", atr=2.0, regime="crash")
    assert gate.approve(intent, book).stop_loss == 98.0


def test_a_gap_through_the_stop_exits_at_the_open_below_it():
    assert stop_exit(95.0, 96.0, 94.0, 97.0, 110.0) == (95.0, "stop_loss")
    assert stop_exit(99.0, 99.5, 96.0, 97.0, 110.0) == (97.0, "stop_loss")
    assert stop_exit(99.0, 111.0, 96.0, 97.0, 110.0) == (97.0, "stop_loss")  # cautious
    assert stop_exit(99.0, 111.0, 98.0, 97.0, 110.0) == (110.0, "take_profit")
    assert stop_exit(99.0, 100.0, 98.0, 97.0, 110.0) is None


def test_the_trailing_stop_follows_the_peak_up_and_never_down():
    stop, peak = trail(95.0, 100.0, 4.0, high=103.0)
    assert (stop, peak) == (99.0, 103.0)
    assert trail(stop, peak, 4.0, high=101.0) == (99.0, 103.0)
    assert stop_reason(99.0, 100.0, 103.0, 4.0) == "trailing_stop"
    assert stop_reason(95.0, 100.0, 100.0, 4.0) == "stop_loss"


def rising_then_falling(n_up=30, n_down=12) -> list[float]:
    return [100 + 0.5 * i for i in range(n_up)] + [114.5 - 1.5 * i for i in range(n_down)]


def test_trailing_stop_exits_on_the_way_down_in_the_engine(tmp_path):
    settings = scripted_settings(trailing_stop_atr_multiple=1.0, take_profit_atr_multiple=50.0)
    closes = rising_then_falling()
    trader, clock = scripted_trader(
        tmp_path, {"BTC/USDT": closes}, {"BTC/USDT": [0] * 18 + [1]}, settings
    )
    stops = []
    for _ in range(len(closes) - 1):
        trader.tick()
        clock.advance(300)
        with trader.factory() as session:
            position = portfolio_view(session, trader.broker, {}).positions.get("BTC/USDT")
        if position:
            stops.append(position.stop_loss)
    assert stops and stops == sorted(stops), "the stop only ever moves up"
    trades = trades_of(trader)
    assert [t.exit_reason for t in trades] == ["trailing_stop"]
    assert trades[0].exit_price <= stops[-1]  # at or below the stop in force


def test_stops_keep_working_while_entries_are_paused_or_blocked(tmp_path):
    closes = [100 + 0.2 * i for i in range(25)] + [80.0] * 5
    trader, clock = scripted_trader(
        tmp_path, {"BTC/USDT": closes}, {"BTC/USDT": [0] * 18 + [1]}, scripted_settings()
    )
    for _ in range(21):
        trader.tick()
        clock.advance(300)
    assert trader_positions(trader) == ["BTC/USDT"]
    trader.entries_paused = True
    with transaction(trader.factory) as session:  # and a drawdown lock on top
        sync_locks(session, [drawdown_block(clock.now())], clock.now())
    for _ in range(6):
        trader.tick()
        clock.advance(300)
    assert trader_positions(trader) == []
    assert [t.exit_reason for t in trades_of(trader)] == ["stop_loss"]


def drawdown_block(now):
    ctx = RiskContext(now=now, equity=8_000.0, peak_equity=10_000.0)
    return MaxDrawdown(0.1, timedelta(hours=5)).check(ctx)


# --- persistence --------------------------------------------------------------------------
def test_a_drawdown_lock_is_stored_survives_a_restart_and_then_the_peak_starts_afresh(
    tmp_path,
):
    settings = with_protections(
        scripted_settings(), max_drawdown=0.10, drawdown_pause_hours=2, daily_loss_limit=1.0
    )
    closes = {"BTC/USDT": [100.0] * 40}
    script = {"BTC/USDT": [0] * 15 + [1] * 25}
    trader, clock = scripted_trader(tmp_path, closes, script, settings)
    with transaction(trader.factory) as session:  # a peak the account has since lost 20% from
        session.add(
            EquitySnapshot(ts=clock.now(), equity=12_500.0, cash=12_500.0, positions_value=0)
        )
    trader.tick()
    clock.advance(300)
    locks = stored_locks(trader)
    assert [(lock.protection, lock.lifted_ts) for lock in locks] == [("max_drawdown", None)]
    until = locks[0].until

    restarted, _ = scripted_trader(tmp_path, closes, script, settings, factory=trader.factory)
    restarted.clock = clock
    while clock.now() < until.replace(tzinfo=UTC) - 10 * MIN:
        restarted.tick()
        clock.advance(300)
    assert trader_positions(restarted) == []
    outcomes = decisions_outcomes(restarted)
    assert outcomes and all("max_drawdown" in o for o in outcomes if o.startswith("rejected"))

    for _ in range(4):
        restarted.tick()
        clock.advance(300)
    assert trader_positions(restarted) == ["BTC/USDT"], decisions_outcomes(restarted)[-3:]
    assert stored_locks(restarted)[0].lifted_ts is not None


def test_repeated_broker_failures_trip_the_breaker_so_the_order_is_not_resent(tmp_path):
    settings = with_protections(scripted_settings(), rejection_limit=3)
    closes = {"BTC/USDT": [100.0 + 0.01 * i for i in range(40)]}
    trader, clock = scripted_trader(tmp_path, closes, {"BTC/USDT": [0] * 18 + [1] * 30}, settings)
    sent = []

    def failing_submit(order, now):
        sent.append(order.client_order_id)
        raise TemporaryError("exchange timeout (test)")

    trader.broker.submit = failing_submit
    trader.broker.fetch_order = lambda cid: None
    for _ in range(26):
        trader.tick()
        clock.advance(300)
    with trader.factory() as session:
        rejections = session.scalars(select(Rejection).order_by(Rejection.id)).all()
    broker_failures = [r for r in rejections if r.source == "broker"]
    assert len(broker_failures) == 3 and all("not placed" in r.reason for r in broker_failures)
    assert any("rejection_breaker" in r.reason for r in rejections if r.source == "risk")
    assert len(sent) == 3 * 3  # three decisions, three tries each, then nothing more


def test_a_permanent_refusal_is_recorded_as_a_rejection(tmp_path):
    closes = {"BTC/USDT": [100.0 + 0.01 * i for i in range(30)]}
    trader, clock = scripted_trader(
        tmp_path, closes, {"BTC/USDT": [0] * 18 + [1]}, scripted_settings()
    )

    def refuse(order, now):
        raise PermanentError("insufficient balance (test)")

    trader.broker.submit = refuse
    for _ in range(20):
        trader.tick()
        clock.advance(300)
    with trader.factory() as session:
        rows = session.scalars(select(Rejection)).all()
    assert [(r.source, r.reason) for r in rows] == [("broker", "insufficient balance (test)")]


def test_the_context_reads_the_halt_and_a_pending_kill(tmp_path):
    from data.store.commands import submit_command
    from data.store.state import update_state

    trader, clock = scripted_trader(tmp_path, {"BTC/USDT": [100.0] * 30}, {"BTC/USDT": []})
    submit_command(trader.factory, "kill")
    with trader.factory() as session:
        ctx = risk_context(session, PortfolioView(1.0, 1.0, {}), {}, clock.now())
    assert ctx.kill_pending and not ctx.halted
    update_state(trader.factory, halted=True, halt_reason="kill switch (command #1)")
    with trader.factory() as session:
        ctx = risk_context(session, PortfolioView(1.0, 1.0, {}), {}, clock.now())
    assert ctx.halted and ctx.halt_reason == "kill switch (command #1)"


# --- helpers ------------------------------------------------------------------------------
def trades_of(trader):
    from data.store.models import Trade

    with trader.factory() as session:
        return session.scalars(select(Trade).order_by(Trade.id)).all()


def trader_positions(trader) -> list[str]:
    from data.store.models import Position

    with trader.factory() as session:
        return sorted(session.scalars(select(Position.pair)))


def stored_locks(trader):
    with trader.factory() as session:
        return session.scalars(select(ProtectionLock).order_by(ProtectionLock.id)).all()


def decisions_outcomes(trader) -> list[str]:
    from data.store.models import Decision

    with trader.factory() as session:
        return list(session.scalars(select(Decision.outcome).order_by(Decision.id)))
