"""Build the engine's parts from settings: the one place that picks implementations."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from agents import LiveAgent, RegimeLimits, build_team
from agents.auditor import AuditLimits
from agents.warmup import warmup_parts
from config import ConfigError, Settings
from config.keys import load_api_keys, missing_keys_message
from data.market.periods import IndicatorPeriods
from engine.clock import Clock, SimulatedClock, make_clock
from engine.trading.account import Account
from engine.trading.loop import Trader
from engine.venues.broker import Broker
from engine.venues.feed import Feed
from engine.venues.paper import PaperExchange, last_fill_time, make_exchange_factory
from engine.venues.synthetic import SyntheticFeed
from risk import RiskGate, RiskLimits
from risk.costs import breakeven_accuracy, round_trip_cost
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


if TYPE_CHECKING:  # ccxt takes a second to import: only runs that use it pay for it
    from engine.venues.ccxt.exchange import ExchangeClient
    from engine.venues.ccxt.rules import VenueRules

# A hook for entry points: every feed and broker built here is passed through these, in
# order. Production adds none; `python -m engine run|supervise` adds the soak's fault
# injection when VOLT_FAULTS_FILE names a plan (install_faults in the tools' faults.py).
feed_wrappers: list[Callable[[Feed], Feed]] = []
broker_wrappers: list[Callable[[Broker], Broker]] = []


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
            max_order_value=(
                settings.exchange.max_order_value if broker.kind == "ccxt" else math.inf
            ),
            max_total_exposure=risk.max_total_exposure,
            regime_stop_scale=dict(risk.regime_stop_scale),
            trailing_stop_atr_multiple=risk.trailing_stop_atr_multiple,
            min_target_to_cost=risk.min_target_to_cost,
        ),
        build_protections(settings),
    )


def learning_breakeven(settings: Settings) -> float:
    """The accuracy at which the stops break even after the broker's costs (risk.costs)."""
    risk, broker = settings.risk, settings.broker
    return breakeven_accuracy(
        risk.stop_atr_multiple,
        risk.take_profit_atr_multiple,
        round_trip_cost(broker.fee_rate, broker.slippage_rate),
        risk.min_target_to_cost,
    )


def check_warmup(settings: Settings) -> None:
    """A window shorter than the team's warm-up never warms: every decision would read a
    cold window (an EMA200 on 120 candles). Raises ConfigError saying how many it needs."""
    history = settings.market.history_candles
    periods = indicator_periods(settings)
    team = build_team(
        settings.agents.weights,
        regime_limits(settings),
        sentiment_proxy=settings.agents.sentiment.source == "proxy",
        window=history,
        periods=periods,
    )
    parts = warmup_parts(team, regime_limits(settings), history, periods)
    needed = max(parts.values())
    if history < needed:
        each = ", ".join(f"{part} {candles}" for part, candles in parts.items())
        raise ConfigError(
            f"market.history_candles {history} is under the team's warm-up of {needed} "
            f"candles (the longest of: {each}): every decision would read cold windows; "
            f"set it to at least {needed}"
        )


def regime_limits(settings: Settings) -> RegimeLimits:
    regime = settings.agents.regime
    return RegimeLimits(
        trend_threshold=regime.trend_threshold,
        high_volatility_ratio=regime.high_volatility_ratio,
        crash_drop=regime.crash_drop,
        crash_window=regime.crash_window,
    )


def indicator_periods(settings: Settings) -> IndicatorPeriods:
    """The indicator lengths of config [indicators], for the live loop and backtests alike."""
    return settings.indicators.periods()


def build_live_agents(settings: Settings) -> list[LiveAgent]:
    """Agents asked one decision at a time: the Fear & Greed index and the LLM, if weighted."""
    agents, weights = settings.agents, settings.agents.weights
    live: list[LiveAgent] = []
    if weights.get("sentiment", 0) > 0 and agents.sentiment.source == "fear_greed":
        from agents.fear_greed import FearGreedSentiment

        sentiment = agents.sentiment
        live.append(
            FearGreedSentiment(
                sentiment.fear_greed_url, sentiment.refresh_minutes * 60, sentiment.timeout_seconds
            )
        )
    if weights.get("llm", 0) > 0:
        from agents.llm import LlmAgent, LlmSettings

        llm = agents.llm
        live.append(
            LlmAgent(
                LlmSettings(
                    host=llm.resolved_host,
                    model=llm.model,
                    timeout_seconds=llm.timeout_seconds,
                    num_ctx=llm.num_ctx,
                    retry_offline_seconds=llm.retry_offline_seconds,
                    tick_budget_seconds=llm.tick_budget_seconds,
                    keep_alive=llm.keep_alive,
                    think=llm.think,
                    degraded_abstain_rate=llm.degraded_abstain_rate,
                    status_window=llm.status_window,
                )
            )
        )
    return live


def build_exchange(settings: Settings) -> ExchangeClient | None:
    """The ccxt client when the feed or the broker needs one; keys only for the broker."""
    if settings.feed.kind != "ccxt" and settings.broker.kind != "ccxt":
        return None
    keys = None
    if settings.broker.kind == "ccxt":
        keys = load_api_keys()
        if keys is None:
            raise ConfigError(missing_keys_message(settings.mode))
    from engine.venues.ccxt.exchange import make_exchange

    return make_exchange(settings, keys, venue_rules(settings))


def venue_rules(settings: Settings) -> VenueRules:
    """The configured exchange's own rules (Binance's), or none beyond ccxt's."""
    from engine.venues.ccxt.rules import VenueRules

    if settings.exchange.id.startswith("binance"):
        from engine.venues.binance.rules import binance_rules

        return binance_rules(settings.exchange.recv_window_ms)
    return VenueRules()


def build_clock(settings: Settings, speed: float, market_time: datetime | None) -> Clock:
    """The engine's clock. A real market's is the wall clock; a simulated one resumes where
    the last run stopped (`market_time`), never earlier; a replay starts where its stored
    candles do (plus the warm-up) and resumes within them. A store that never knew a market
    time, or an older one (lost, new, restored from a copy), on a paper account that traded
    resumes at the account's last fill, never among candles the account already traded on."""
    resume = _resume_times(settings, market_time)
    if settings.feed.kind == "replay":
        from engine.venues.replay import replay_start

        # The first resume time within the replay's candles (a fill of another market's
        # run is not); none: where the replay begins.
        return SimulatedClock(replay_start(settings, resume), speed)
    return make_clock(speed, None if settings.feed.kind == "ccxt" or not resume else resume[0])


def _resume_times(settings: Settings, market_time: datetime | None) -> list[datetime]:
    """Where a simulated clock may resume, best first: the paper account's last fill in the
    traded pairs when the store's market time is older (or unknown), then the store's."""
    times = [market_time] if market_time is not None else []
    if settings.broker.kind == "paper" and settings.feed.kind != "ccxt":
        last_fill = last_fill_time(settings.market.pairs)
        if last_fill is not None and (market_time is None or last_fill > market_time):
            times.insert(0, last_fill)
    return times


def build_feed(settings: Settings, exchange: ExchangeClient | None) -> Feed:
    feed: Feed
    if settings.feed.kind == "ccxt":
        from engine.venues.ccxt.feed import CcxtFeed

        feed = CcxtFeed(
            exchange, settings.market.timeframe, settings.exchange.max_concurrent_requests
        )
    elif settings.feed.kind == "replay":
        from engine.venues.replay import ReplayFeed

        feed = ReplayFeed.from_settings(settings)
    else:
        feed = SyntheticFeed(settings.feed.seed, settings.market.timeframe)
    for wrap in feed_wrappers:
        feed = wrap(feed)
    return feed


def build_broker(
    settings: Settings, exchange: ExchangeClient | None, feed: Feed | None = None
) -> Broker:
    """`feed` quotes the paper exchange's next-open fills (broker.fill_at)."""
    broker = _venue_broker(settings, exchange, feed)
    for wrap in broker_wrappers:
        broker = wrap(broker)
    return broker


def _venue_broker(settings: Settings, exchange: ExchangeClient | None, feed: Feed | None) -> Broker:
    broker_cfg = settings.broker
    if broker_cfg.kind == "ccxt":
        from engine.venues.ccxt.broker import CcxtBroker

        cfg = settings.exchange
        return CcxtBroker(
            exchange,
            quote_currency=broker_cfg.quote_currency,
            pairs=list(settings.market.pairs),
            max_order_value=cfg.max_order_value,
            order_wait_seconds=cfg.order_wait_seconds,
            poll_seconds=cfg.order_poll_seconds,
            reconcile_hours=cfg.reconcile_hours,
            fee_rate=broker_cfg.fee_rate,
            capital=broker_cfg.starting_capital,
        )
    return PaperExchange(
        make_exchange_factory(),
        broker_cfg.quote_currency,
        broker_cfg.starting_capital,
        broker_cfg.fee_rate,
        broker_cfg.slippage_rate,
        fill_at=broker_cfg.fill_at,
        quotes=feed,
    )


def build_account(
    settings: Settings,
    factory: sessionmaker[Session],
    clock: Clock,
    exchange: ExchangeClient | None = None,
) -> Account:
    """What closing positions needs, no agents: the kill switch's, with the worker dead.
    `exchange` is built from settings unless given (tests point one at a loopback server)."""
    exchange = exchange or build_exchange(settings)
    auditor = settings.agents.auditor
    feed = build_feed(settings, exchange)
    return Account.of_store(
        factory,
        clock=clock,
        feed=feed,
        broker=build_broker(settings, exchange, feed),
        gate=build_gate(settings),
        audit_limits=AuditLimits(auditor.max_slippage, auditor.size_tolerance),
    )


def build_trader(
    settings: Settings,
    factory: sessionmaker[Session],
    clock: Clock,
    exchange: ExchangeClient | None = None,
) -> Trader:
    """`exchange` is built from settings unless given (tests point one at a loopback server)."""
    exchange = exchange or build_exchange(settings)
    account = build_account(settings, factory, clock, exchange)
    trader = Trader(
        factory=factory,
        clock=clock,
        feed=account.feed,
        broker=account.broker,
        gate=account.gate,
        agents=build_team(
            settings.agents.weights,
            regime_limits(settings),
            sentiment_proxy=settings.agents.sentiment.source == "proxy",
            periods=indicator_periods(settings),
        ),
        live_agents=build_live_agents(settings),
        weights=dict(settings.agents.weights),
        learning=settings.agents.learning,
        breakeven_accuracy=learning_breakeven(settings),
        audit_limits=account.audit_limits,
        thresholds=dict(settings.consensus.thresholds),
        regime_limits=regime_limits(settings),
        periods=indicator_periods(settings),
        pairs=list(settings.market.pairs),
        timeframe=settings.market.timeframe,
        history_candles=settings.market.history_candles,
        fill_at=settings.broker.fill_at,
    )
    trader.exchange = exchange
    return trader
