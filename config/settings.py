"""Typed settings. A bad value fails with the field's dotted name and the allowed range."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.alerts import Alerts
from config.market import Market, timeframe_seconds
from config.search_space import Optimize
from config.section import Section as _Section
from data.market.periods import IndicatorPeriods


class Feed(_Section):
    kind: Literal["synthetic", "ccxt", "replay"] = "synthetic"
    seed: int = Field(default=42, ge=0, le=2**32 - 1)


class Replay(_Section):
    """feed.kind = "replay": stored candles (market.pairs on market.timeframe) played back."""

    exchange: str = ""  # whose stored candles; empty: exchange.id
    # Market time the replay starts at; empty: the first stored candle plus the warm-up
    # (market.history_candles). A TOML date or date-time; without an offset it is UTC.
    start: datetime | None = None

    @field_validator("start", mode="before")
    @classmethod
    def _utc(cls, start: object) -> object:
        if isinstance(start, date) and not isinstance(start, datetime):
            start = datetime.combine(start, time(), UTC)
        if isinstance(start, datetime) and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        return start


class Clock(_Section):
    speed: float = Field(default=1.0, gt=0, le=1_000_000)


class Broker(_Section):
    kind: Literal["paper", "ccxt"] = "paper"
    starting_capital: float = Field(default=10_000.0, gt=0, le=1e12)
    quote_currency: str = Field(default="USDT", min_length=1)
    fee_rate: float = Field(default=0.001, ge=0, le=0.05)
    slippage_rate: float = Field(default=0.0005, ge=0, le=0.05)
    # Where a decision made on a candle's close fills, in backtests and the paper exchange:
    # the next candle's open (what a market order sent then gets) or that close itself.
    fill_at: Literal["next_open", "close"] = "next_open"


class Protections(_Section):
    """Each blocks new entries for a while; exits are never blocked."""

    max_drawdown: float = Field(default=0.15, gt=0, le=1)
    drawdown_pause_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    daily_loss_limit: float = Field(default=0.05, gt=0, le=1)
    losing_streak: int = Field(default=3, ge=1, le=100)
    losing_streak_cooldown_minutes: float = Field(default=120.0, gt=0, le=7 * 24 * 60)
    stop_out_cooldown_minutes: float = Field(default=60.0, ge=0, le=7 * 24 * 60)
    max_trades_per_hour: int = Field(default=6, ge=1, le=1000)
    rejection_limit: int = Field(default=3, ge=1, le=100)
    rejection_window_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    rejection_cooldown_minutes: float = Field(default=60.0, gt=0, le=7 * 24 * 60)


class Risk(_Section):
    risk_per_trade: float = Field(default=0.01, gt=0, le=0.1)
    stop_atr_multiple: float = Field(default=2.0, gt=0, le=20)
    take_profit_atr_multiple: float = Field(default=3.0, gt=0, le=50)
    # Both distances are scaled by this in wilder markets: 1 keeps them, below 1 tightens.
    regime_stop_scale: dict[str, float] = Field(
        default_factory=lambda: {"high_volatility": 0.75, "crash": 0.5}
    )
    trailing_stop_atr_multiple: float = Field(default=0.0, ge=0, le=20)  # 0: no trailing stop
    # No entry whose take-profit distance is under this many round-trip costs (broker fee
    # and slippage, both sides): a target of 3 x 0.30 % = 0.90 % at least, by default.
    min_target_to_cost: float = Field(default=3.0, ge=1, le=100)
    max_position_fraction: float = Field(default=0.25, gt=0, le=1)
    max_total_exposure: float = Field(default=0.6, gt=0, le=1)
    max_open_positions: int = Field(default=3, ge=1, le=100)
    min_order_value: float = Field(default=10.0, ge=0, le=1e9)
    protections: Protections = Protections()

    @field_validator("regime_stop_scale")
    @classmethod
    def _scale_per_wild_regime(cls, scale: dict[str, float]) -> dict[str, float]:
        known = {"high_volatility", "crash"}
        for regime, value in scale.items():
            if regime not in known:
                raise ValueError(f"unknown regime {regime!r}; known: {', '.join(sorted(known))}")
            if not 0 < value <= 2:
                raise ValueError(f"scale for {regime} is {value}; allowed range is above 0 to 2")
        return scale


class Indicators(_Section):
    """Indicator lengths in candles (MACD 12/26/9 and ATR 14 stay fixed)."""

    rsi_period: int = Field(default=14, ge=2, le=200)
    bollinger_period: int = Field(default=20, ge=2, le=500)
    trend_fast_span: int = Field(default=50, ge=2, le=2000)  # the regime's trend EMAs
    trend_slow_span: int = Field(default=200, ge=3, le=5000)
    momentum_window: int = Field(default=12, ge=1, le=1000)  # the sentiment proxy's lag

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Indicators:
        if self.trend_fast_span >= self.trend_slow_span:
            raise ValueError(
                f"trend_fast_span {self.trend_fast_span} must be below "
                f"trend_slow_span {self.trend_slow_span} (the fast trend EMA is the shorter)"
            )
        return self

    def periods(self) -> IndicatorPeriods:
        """These lengths as the indicators and agents take them (live, backtests, charts)."""
        return IndicatorPeriods(
            rsi=self.rsi_period,
            bollinger=self.bollinger_period,
            trend_fast=self.trend_fast_span,
            trend_slow=self.trend_slow_span,
            momentum=self.momentum_window,
        )


class Regime(_Section):
    trend_threshold: float = Field(default=2.0, gt=0, le=20)
    high_volatility_ratio: float = Field(default=1.8, gt=1, le=10)
    crash_drop: float = Field(default=0.05, gt=0, le=0.5)
    crash_window: int = Field(default=12, ge=2, le=500)


class Sentiment(_Section):
    source: Literal["proxy", "fear_greed"] = "proxy"
    fear_greed_url: str = "https://api.alternative.me/fng/?limit=1"
    refresh_minutes: float = Field(default=60.0, ge=1, le=1440)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


class Llm(_Section):
    host: str = ""  # empty: $OLLAMA_HOST, else http://127.0.0.1:11434
    model: str = Field(default="llama3.2:3b", min_length=1)
    timeout_seconds: float = Field(default=20.0, gt=0, le=600)  # per vote
    num_ctx: int = Field(default=4096, ge=512, le=131072)
    retry_offline_seconds: float = Field(default=300.0, ge=1, le=86400)
    # One budget for a tick's votes, every pair asked at once; capped by timeout_seconds.
    tick_budget_seconds: float = Field(default=15.0, gt=0, le=600)
    # How long Ollama keeps the model loaded after a vote (an Ollama duration: 30m, 2h).
    keep_alive: str = Field(default="30m", pattern=r"^-?\d+(\.\d+)?(ms|s|m|h)$")
    think: bool = False  # false: a thinking model answers without spending the budget thinking
    # The Agents page says "degraded" when this share of the last status_window votes abstained.
    degraded_abstain_rate: float = Field(default=0.5, gt=0, le=1)
    status_window: int = Field(default=20, ge=1, le=1000)

    @property
    def resolved_host(self) -> str:
        return self.host or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"


class Learning(_Section):
    freeze: bool = False  # true keeps the configured weights for good
    window: int = Field(default=50, ge=5, le=10_000)  # resolved decisions per agent
    min_samples: int = Field(default=10, ge=1, le=10_000)
    floor: float = Field(default=0.1, gt=0, le=10)
    cap: float = Field(default=2.0, gt=0, le=10)
    outcome_horizon_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    sell_horizon_candles: int = Field(default=12, ge=1, le=10_000)

    @model_validator(mode="after")
    def _floor_below_cap(self) -> Learning:
        if self.floor > self.cap:
            raise ValueError(f"floor {self.floor} is above cap {self.cap}")
        return self


class Auditor(_Section):
    max_slippage: float = Field(default=0.002, ge=0, le=0.2)  # fill vs decision price
    size_tolerance: float = Field(default=0.001, ge=0, le=0.5)  # fill vs approved amount


class Agents(_Section):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"technical": 1.0, "regime": 0.5, "sentiment": 0.5, "llm": 0.0}
    )
    regime: Regime = Regime()
    sentiment: Sentiment = Sentiment()
    llm: Llm = Llm()
    learning: Learning = Learning()
    auditor: Auditor = Auditor()

    @field_validator("weights")
    @classmethod
    def _weights_in_range(cls, weights: dict[str, float]) -> dict[str, float]:
        known = {"technical", "regime", "sentiment", "llm"}
        for name, weight in weights.items():
            if name not in known:
                raise ValueError(
                    f"unknown agent {name!r}; known agents: {', '.join(sorted(known))}"
                )
            if not 0 <= weight <= 10:
                raise ValueError(f"weight of {name!r} is {weight}; allowed range is 0 to 10")
        if not any(w > 0 for w in weights.values()):
            raise ValueError("at least one agent needs a weight above 0")
        return weights


class Consensus(_Section):
    # |weighted score| needed to act, by market regime: surer in wilder markets.
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"normal": 0.55, "high_volatility": 0.70, "crash": 0.80}
    )

    @field_validator("thresholds")
    @classmethod
    def _one_per_regime(cls, thresholds: dict[str, float]) -> dict[str, float]:
        expected = {"normal", "high_volatility", "crash"}
        if set(thresholds) != expected:
            raise ValueError(
                f"give exactly one threshold for each of {', '.join(sorted(expected))}"
            )
        for regime, value in thresholds.items():
            if not 0 < value <= 1:
                raise ValueError(
                    f"threshold for {regime} is {value}; allowed range is above 0 to 1"
                )
        return thresholds


class Engine(_Section):
    tick_seconds: float = Field(default=60.0, gt=0, le=3600)
    hang_intervals: int = Field(default=5, ge=2, le=100)
    hang_min_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    restart_backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    restart_backoff_max_seconds: float = Field(default=30.0, ge=0, le=600)
    crash_loop_restarts: int = Field(default=5, ge=1, le=1000)
    crash_loop_minutes: float = Field(default=10.0, gt=0, le=1440)
    metrics_interval_seconds: float = Field(default=10.0, gt=0, le=3600)
    metrics_retention_hours: float = Field(default=48.0, gt=0, le=24 * 365)
    shutdown_timeout_seconds: float = Field(default=15.0, gt=0, le=600)


class Laptop(_Section):
    max_cpu_temp_c: float = Field(default=85.0, ge=40, le=110)
    cool_margin_c: float = Field(default=5.0, gt=0, le=40)
    pause_on_battery: bool = False


class Exchange(_Section):
    """The exchange behind the ccxt feed and broker. Keys come from the environment only."""

    id: str = Field(default="binance", min_length=1)
    allow_live: bool = False
    max_order_value: float = Field(default=100.0, gt=0, le=1e9)  # quote currency, hard cap per buy
    timeout_seconds: float = Field(default=10.0, ge=0.1, le=120)
    recv_window_ms: int = Field(default=5000, ge=1000, le=60_000)
    order_wait_seconds: float = Field(default=30.0, ge=0, le=3600)
    order_poll_seconds: float = Field(default=1.0, ge=0.01, le=60)
    reconcile_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    # A tick's candle reads in flight at once, within the exchange's request-weight budget.
    max_concurrent_requests: int = Field(default=10, ge=1, le=50)
    # Another host for every REST call (a proxy, a regional endpoint, a loopback test
    # server), each call keeping its path; empty: the exchange's own hosts.
    base_url: str = ""

    @field_validator("id")
    @classmethod
    def _known_to_ccxt(cls, exchange_id: str) -> str:
        import ccxt

        if exchange_id not in ccxt.exchanges:
            raise ValueError(f"{exchange_id!r} is not an exchange ccxt knows, e.g. 'binance'")
        return exchange_id

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
            raise ValueError(f"{url!r} must look like https://host[:port][/path]")
        return url.rstrip("/")


LOOPBACK_ADDRESSES = {"127.0.0.1", "::1", "localhost"}


class Dashboard(_Section):
    refresh_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    # Anything but loopback needs VOLT_DASHBOARD_PASSWORD: the pages can trade and halt.
    address: str = Field(default="127.0.0.1", min_length=1)
    # Every time the pages show is the engine's market time in this zone: "local" (the
    # computer's), "UTC", or an IANA name such as "Europe/Berlin".
    timezone: str = "local"

    @property
    def exposed(self) -> bool:
        """Whether other machines may reach the pages (then the password guards them)."""
        return self.address not in LOOPBACK_ADDRESSES

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, name: str) -> str:
        if name in ("local", "UTC"):
            return name
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"timezone {name!r} is not a known zone: use local, UTC or an IANA name "
                "such as Europe/Berlin"
            ) from None
        return name


class Settings(_Section):
    mode: Literal["paper", "testnet", "live"] = "paper"
    market: Market = Market()
    feed: Feed = Feed()
    replay: Replay = Replay()
    clock: Clock = Clock()
    broker: Broker = Broker()
    risk: Risk = Risk()
    agents: Agents = Agents()
    consensus: Consensus = Consensus()
    indicators: Indicators = Indicators()
    engine: Engine = Engine()
    laptop: Laptop = Laptop()
    exchange: Exchange = Exchange()
    dashboard: Dashboard = Dashboard()
    optimize: Optimize = Optimize()
    alerts: Alerts = Alerts()

    @model_validator(mode="after")
    def _pairs_share_quote_currency(self) -> Settings:
        quote = self.broker.quote_currency
        for pair in self.market.pairs:
            if pair.partition("/")[2] != quote:
                raise ValueError(
                    f"market.pairs: {pair} is not quoted in broker.quote_currency {quote}"
                )
        return self

    @model_validator(mode="after")
    def _orders_can_be_large_enough(self) -> Settings:
        # Otherwise every entry is refused as too small, for a reason that hides the cause.
        smallest, quote = self.risk.min_order_value, self.broker.quote_currency
        if self.broker.kind == "ccxt" and smallest > self.exchange.max_order_value:
            raise ValueError(
                f"risk.min_order_value {smallest:g} {quote} is above exchange.max_order_value "
                f"{self.exchange.max_order_value:g}: no order could be placed"
            )
        if self.broker.kind == "paper" and smallest >= self.broker.starting_capital:
            raise ValueError(
                f"risk.min_order_value {smallest:g} {quote} is not below broker.starting_capital "
                f"{self.broker.starting_capital:g}: no order could be placed"
            )
        return self

    @model_validator(mode="after")
    def _mode_fits_feed_and_broker(self) -> Settings:
        mode, feed, broker = self.mode, self.feed.kind, self.broker.kind
        if mode == "paper" and broker == "ccxt":
            raise ValueError(
                "broker.kind = 'ccxt' sends real orders: use broker.kind = 'paper' in paper mode, "
                "or set mode = 'testnet'"
            )
        if mode != "paper" and broker != "ccxt":
            raise ValueError(f"mode = '{mode}' trades on the exchange: set broker.kind = 'ccxt'")
        if mode != "paper" and feed != "ccxt":
            raise ValueError(
                f"mode = '{mode}' needs the exchange's own prices: set feed.kind = 'ccxt'"
            )
        if mode == "live" and not self.exchange.allow_live:
            raise ValueError(
                "mode = 'live' trades real money: set exchange.allow_live = true to allow it"
            )
        if feed == "ccxt" and self.clock.speed != 1.0:
            raise ValueError(
                "clock.speed: a real market runs in real time; set it to 1 "
                f"(got {self.clock.speed:g})"
            )
        return self

    @property
    def sandbox(self) -> bool:
        """Testnet is ccxt's sandbox mode of the same exchange."""
        return self.mode == "testnet"

    @property
    def timeframe_seconds(self) -> int:
        return timeframe_seconds(self.market.timeframe)
