"""Build the engine's parts from settings: the one place that picks implementations."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from agents import RegimeLimits, build_team
from config import Settings
from engine.clock import Clock
from engine.faults import with_faults
from engine.feed import SyntheticFeed
from engine.paper_exchange import PaperExchange, make_exchange_factory
from engine.trader import Trader
from risk import RiskGate, RiskLimits
from risk.protections import (
    DailyLossLimit,
    KillSwitch,
    LosingStreak,
    MaxDrawdown,
    MaxExposure,
    MaxTradesPerHour,
    Protection,
    RejectionBreaker,
    StopOutCooldown,
)


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def build_protections(settings: Settings) -> list[Protection]:
    """The rules every entry must pass, in the order their blocks are reported."""
    risk, rules = settings.risk, settings.risk.protections
    return [
        KillSwitch(),
        MaxDrawdown(rules.max_drawdown, timedelta(hours=rules.drawdown_pause_hours)),
        DailyLossLimit(rules.daily_loss_limit),
        LosingStreak(rules.losing_streak, minutes(rules.losing_streak_cooldown_minutes)),
        StopOutCooldown(minutes(rules.stop_out_cooldown_minutes)),
        MaxExposure(risk.max_total_exposure, risk.min_order_value),
        MaxTradesPerHour(rules.max_trades_per_hour),
        RejectionBreaker(
            rules.rejection_limit,
            minutes(rules.rejection_window_minutes),
            minutes(rules.rejection_cooldown_minutes),
        ),
    ]


def build_gate(settings: Settings) -> RiskGate:
    risk, broker = settings.risk, settings.broker
    return RiskGate(
        RiskLimits(
            risk_per_trade=risk.risk_per_trade,
            stop_atr_multiple=risk.stop_atr_multiple,
            take_profit_atr_multiple=risk.take_profit_atr_multiple,
            max_position_fraction=risk.max_position_fraction,
            max_open_positions=risk.max_open_positions,
            min_order_value=risk.min_order_value,
            fee_rate=broker.fee_rate,
            slippage_rate=broker.slippage_rate,
            max_total_exposure=risk.max_total_exposure,
            regime_stop_scale=dict(risk.regime_stop_scale),
            trailing_stop_atr_multiple=risk.trailing_stop_atr_multiple,
        ),
        build_protections(settings),
    )


def regime_limits(settings: Settings) -> RegimeLimits:
    regime = settings.agents.regime
    return RegimeLimits(
        trend_threshold=regime.trend_threshold,
        high_volatility_ratio=regime.high_volatility_ratio,
        crash_drop=regime.crash_drop,
        crash_window=regime.crash_window,
    )


def build_trader(settings: Settings, factory: sessionmaker[Session], clock: Clock) -> Trader:
    broker_cfg = settings.broker
    feed, broker = with_faults(
        SyntheticFeed(settings.feed.seed, settings.market.timeframe),
        PaperExchange(
            make_exchange_factory(),
            broker_cfg.quote_currency,
            broker_cfg.starting_capital,
            broker_cfg.fee_rate,
            broker_cfg.slippage_rate,
        ),
    )
    return Trader(
        factory=factory,
        clock=clock,
        feed=feed,
        broker=broker,
        gate=build_gate(settings),
        agents=build_team(settings.agents.weights, regime_limits(settings)),
        weights=dict(settings.agents.weights),
        thresholds=dict(settings.consensus.thresholds),
        regime_limits=regime_limits(settings),
        pairs=list(settings.market.pairs),
        timeframe=settings.market.timeframe,
        history_candles=settings.market.history_candles,
    )
