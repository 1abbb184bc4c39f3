"""One ccxt client per process: how it is built, what its errors mean to VOLT, and a record of
how the exchange answered lately (latency, reachability, last error) for the Control page."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import ccxt
from requests.adapters import HTTPAdapter

from config import ConfigError, Settings
from config.keys import ApiKeys
from data.store.db import utcnow
from engine.venues.broker import InsufficientFunds
from engine.venues.ccxt.endpoints import point_at
from engine.venues.ccxt.rules import VenueRules
from engine.venues.ccxt.weights import WeightBudget
from engine.venues.errors import (
    ExchangePaused,
    KeyRefused,
    OrderStatusUnknown,
    PermanentError,
    TemporaryError,
)

log = logging.getLogger("volt.exchange")
T = TypeVar("T")
RECENT_CALLS = 20
# What a broker and a feed need; an exchange id is usable when ccxt offers all of these.
BROKER_CALLS = (
    "createOrder",
    "fetchOrder",
    "cancelOrder",
    "fetchOpenOrders",
    "fetchMyTrades",
    "fetchBalance",
)
FEED_CALLS = ("fetchOHLCV", "fetchTicker")
# The ccxt methods the API key signs: one of them answered proves the key works again.
SIGNED_CALLS = frozenset(
    {
        "fetch_balance",
        "create_order",
        "fetch_order",
        "cancel_order",
        "fetch_open_orders",
        "fetch_my_trades",
        "fetch_order_trades",
    }
)
_SIGNATURE = re.compile(r"(signature=)[0-9A-Za-z%+/=]+")
_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
DEFAULT_BAN_SECONDS = 120.0  # when an IP ban comes without Retry-After
# A 429 without Retry-After: pause this long, doubling at each one in a row, up to the cap.
FIRST_RATE_PAUSE_SECONDS = 1.0
MAX_RATE_PAUSE_SECONDS = 60.0


class UnknownOrder(PermanentError):
    """The exchange has no order with that id."""


class IpBanned(ExchangePaused):
    """The exchange banned this IP for a while (Binance: HTTP 418): no calls until it ends."""


class RateLimited(ExchangePaused):
    """Too many requests (HTTP 429): no calls until its Retry-After ends."""


@dataclass(frozen=True)
class KeyRefusal:
    """The exchange refusing the API key: since when, on which call, in its own words
    (secrets hidden). Held until a signed call succeeds."""

    at: datetime
    call: str
    reason: str
    mode: str  # testnet or live: which exchange the key must belong to

    @property
    def sentence(self) -> str:
        """What the pages and `engine status` say: the refusal, then what to check."""
        return (
            f"{self.call}: {self.reason}. Check VOLT_API_KEY / VOLT_API_SECRET: the key must "
            f"not be expired or deleted, must allow this IP, and must be a {self.mode} key "
            f"for {self.mode}"
        )


class ExchangeMonitor:
    """The last calls to the exchange, kept in memory; the worker publishes it between ticks."""

    def __init__(self) -> None:
        self.calls: deque[dict] = deque(maxlen=RECENT_CALLS)
        self.reachable: bool | None = None
        self.last_ok_at: datetime | None = None
        self.last_error = ""
        self.last_error_at: datetime | None = None

    def record(self, what: str, seconds: float, error: str | None, reached: bool) -> None:
        now = utcnow()
        ms = round(seconds * 1000, 1)
        self.calls.append({"call": what, "ms": ms, "ok": error is None, "at": now.isoformat()})
        # An exchange that answers with an error (bad key, low balance) is still reachable.
        self.reachable = reached
        if error is None:
            self.last_ok_at = now
        else:
            self.last_error, self.last_error_at = error, now


class ExchangeClient:
    """A ccxt exchange with VOLT's error mapping; feed and broker share it (one rate limiter)."""

    def __init__(
        self,
        api: ccxt.Exchange,
        mode: str,
        keys: ApiKeys | None = None,
        rules: VenueRules | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.mode = mode
        self.keys = keys
        self.rules = rules or VenueRules()
        self.id = api.id
        self.monitor = ExchangeMonitor()
        self._markets_loaded = False
        # The pause the exchange asked for (429 or an IP ban), shared by feed and broker on
        # every thread: `clock` time it ends, and which it is.
        self.clock = clock
        self.paused_until = 0.0
        self._pause: type[ExchangePaused] = RateLimited
        self._pause_lock = threading.Lock()
        self._rate_strikes = 0  # 429s in a row without Retry-After
        # Set by a refused key, cleared by the next signed call that succeeds: one event each.
        self.key_refusal: KeyRefusal | None = None
        self._key_lock = threading.Lock()
        self._markets_lock = threading.Lock()  # concurrent first reads load them once
        # VOLT's request-weight budget in place of ccxt's throttle, which spaces calls one
        # after another (Binance: 50 ms a unit of cost): concurrent reads overlap within it.
        self.weights = WeightBudget(
            lambda: self.rules.rate_window_seconds * 1000 / max(float(api.rateLimit), 1.0),
            self.rules.rate_window_seconds,
        )
        api.throttle = self._spend_unless_paused
        # ccxt keeps the last answer's headers on the shared client, which another thread's
        # answer may replace before a 429's Retry-After is read: each thread keeps its own.
        self._answer = threading.local()
        on_rest_response = api.on_rest_response

        def remember_headers(code, reason, url, method, headers, *rest):
            self._answer.headers = headers
            return on_rest_response(code, reason, url, method, headers, *rest)

        api.on_rest_response = remember_headers

    @property
    def label(self) -> str:
        return f"{self.id} {self.mode}" if self.mode != "paper" else self.id

    def call(
        self,
        what: str,
        method: Callable[..., T],
        *args: Any,
        placing: bool = False,
        lookup: bool = False,
    ) -> T:
        """Run one ccxt call; ccxt errors come out as TemporaryError or PermanentError.
        `lookup`: "no such order" is an answer, not an exchange error."""
        self._refuse_if_paused(what)
        started = time.perf_counter()
        self._answer.headers, self._answer.what = None, what
        try:
            result = method(*args)
        except ccxt.BaseError as exc:
            error = self.translate(exc, what, placing)
            # It answered a refusal (key, balance, rate limit, clock) or it did not answer.
            reached = not isinstance(exc, ccxt.OperationFailed) or isinstance(
                exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded | ccxt.InvalidNonce
            )
            answered = lookup and isinstance(error, UnknownOrder)
            shown = None if answered else str(error)
            self.monitor.record(what, time.perf_counter() - started, shown, reached)
            # The ccxt error is not chained: its text may carry a signed URL.
            raise error from None
        self._rate_strikes = 0
        self.monitor.record(what, time.perf_counter() - started, None, True)
        if self.key_refusal is not None and getattr(method, "__name__", "") in SIGNED_CALLS:
            self._key_accepted(what)
        return result

    def _refuse_if_paused(self, what: str) -> None:
        with self._pause_lock:
            wait, pause = self.paused_until - self.clock(), self._pause
        if wait > 0:  # calling during a pause only makes it longer (429s become a ban)
            cause = "has banned this IP" if pause is IpBanned else "asked for a pause (HTTP 429)"
            raise pause(f"{what}: not sent: {self.id} {cause} for {wait:.0f} s more", wait)

    def _spend_unless_paused(self, cost: float | None = None) -> None:
        """ccxt's throttle, run just before each request: the request's weight, then the
        pause asked again, since another thread may have met a 429 while this one waited."""
        self.weights.spend(cost)
        self._refuse_if_paused(getattr(self._answer, "what", "a call"))

    def hide(self, text: str) -> str:
        text = _SIGNATURE.sub(r"\1***", text)
        return self.keys.hide(text) if self.keys else text

    def translate(self, exc: ccxt.BaseError, what: str, placing: bool = False) -> Exception:
        """A ccxt error as the VOLT error that says what to do about it."""
        name = type(exc).__name__
        detail = self.hide(str(exc))[:500]
        if isinstance(exc, ccxt.InvalidNonce):
            return TemporaryError(f"{what}: {self._resync_clock()} ({detail})")
        code = _CODE.search(str(exc))
        if code and code.group(1) in self.rules.key_refused_codes:
            return self._key_refused(what, detail)
        ban = self.rules.ip_ban_status
        if ban and isinstance(exc, ccxt.DDoSProtection) and f" {ban} " in str(exc)[:40]:
            return self._banned(what)
        if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return self._rate_limited(what)
        if isinstance(exc, ccxt.OperationFailed):  # network errors, timeouts, 5xx, garbled replies
            if placing:
                return OrderStatusUnknown(
                    f"{what}: no clear answer from {self.id} ({name}); the order may have been "
                    "placed, so it is looked up by its client order id before any resend"
                )
            return TemporaryError(f"{what}: {self.id} unreachable or busy ({name}: {detail})")
        if isinstance(exc, ccxt.InsufficientFunds):
            return InsufficientFunds(
                f"{what}: the {self.label} account has too little balance for this order; "
                f"deposit more or lower risk.max_position_fraction ({detail})"
            )
        if isinstance(exc, ccxt.PermissionDenied):
            return PermanentError(
                f"{what}: the API key may not do this; enable spot trading for the key on "
                f"{self.id} ({detail})"
            )
        if isinstance(exc, ccxt.AuthenticationError):
            return self._key_refused(what, detail)
        if isinstance(exc, ccxt.OrderNotFound):
            return UnknownOrder(f"{what}: {self.id} has no such order")
        if isinstance(exc, ccxt.InvalidOrder):
            return PermanentError(f"{what}: {self.id} refused the order: {detail}")
        return PermanentError(f"{what}: {self.id} error {name}: {detail}")

    def _key_refused(self, what: str, detail: str) -> KeyRefused:
        error = KeyRefused(
            f"{what}: {self.id} refused the API key: check VOLT_API_KEY and VOLT_API_SECRET, "
            f"that the key belongs to the {self.mode} exchange, is not expired or deleted and "
            f"allows this IP ({detail})"
        )
        with self._key_lock:
            starts = self.key_refusal is None
            if starts:
                self.key_refusal = KeyRefusal(utcnow(), what, detail, self.mode)
        if starts:  # an event (and an alert) when it starts, not at every call
            log.error(
                "%s; new entries paused until a signed call succeeds",
                error,
                extra={"kind": "key_refused"},
            )
        return error

    def _key_accepted(self, what: str) -> None:
        with self._key_lock:
            refusal, self.key_refusal = self.key_refusal, None
        if refusal is not None:
            log.warning(
                "%s accepted the API key again (%s), refused since %s UTC: new entries resume",
                self.id,
                what,
                f"{refusal.at:%Y-%m-%d %H:%M:%S}",
                extra={"kind": "key_accepted"},
            )

    def _banned(self, what: str) -> IpBanned:
        """An IP ban (Binance: HTTP 418): every call waits until Retry-After ends."""
        seconds = self._retry_after(DEFAULT_BAN_SECONDS)
        status = self.rules.ip_ban_status
        if self._pause_for(seconds, IpBanned):
            log.error(
                "%s banned this IP (HTTP %s) for %.0f s after too many requests; no calls to "
                "it until then. Lower the number of pairs or raise engine.tick_seconds",
                self.id,
                status,
                seconds,
                extra={"kind": "exchange_ban"},
            )
        message = f"{what}: {self.id} banned this IP (HTTP {status}) for {seconds:.0f} s"
        return IpBanned(message, seconds)

    def _rate_limited(self, what: str) -> RateLimited:
        """HTTP 429: no call of any kind until Retry-After ends (Binance bans an IP that
        goes on calling); without one, a pause that doubles at each 429 in a row."""
        with self._pause_lock:
            self._rate_strikes += 1
            backoff = FIRST_RATE_PAUSE_SECONDS * 2 ** min(self._rate_strikes - 1, 16)
        seconds = self._retry_after(min(backoff, MAX_RATE_PAUSE_SECONDS))
        if self._pause_for(seconds, RateLimited):
            log.warning(
                "%s rate limited VOLT (HTTP 429): no calls to it for %.0f s, as it asked",
                self.id,
                seconds,
                extra={"kind": "exchange_rate_limit"},
            )
        message = f"{what}: rate limited by {self.id} (HTTP 429): no calls for {seconds:.0f} s"
        return RateLimited(message, seconds)

    def _retry_after(self, default: float) -> float:
        headers = getattr(self._answer, "headers", None) or {}
        try:
            return max(0.0, float(headers.get("Retry-After") or default))
        except ValueError:  # an HTTP date: rare, and the default is as safe
            return default

    def _pause_for(self, seconds: float, pause: type[ExchangePaused]) -> bool:
        """Pause every call for `seconds`; True if this starts a pause (one event each)."""
        with self._pause_lock:
            now = self.clock()
            starts = self.paused_until <= now
            # A ban during a 429 pause is news; a 429 during a ban is not.
            escalates = not starts and pause is IpBanned and self._pause is not IpBanned
            self.paused_until = max(self.paused_until, now + seconds)
            if starts or escalates:
                self._pause = pause
        return starts or escalates

    def _resync_clock(self) -> str:
        # The exchange refuses requests stamped outside recvWindow: follow its clock from now on.
        try:
            offset_ms = self.api.load_time_difference()
        except ccxt.BaseError as exc:
            return f"this computer's clock is off and {self.id}'s time could not be read: {exc}"
        log.warning(
            "this computer's clock is %.1f s off %s's; signing with the exchange's time now. "
            "Keep the clock synced (timedatectl set-ntp true)",
            (offset_ms or 0) / 1000,
            self.id,
            extra={"kind": "clock_skew"},
        )
        return (
            f"timestamp outside the exchange's recvWindow: this computer's clock is "
            f"{(offset_ms or 0) / 1000:.1f} s off; re-synced"
        )

    def load_markets(self) -> dict:
        with self._markets_lock:
            if not self._markets_loaded:
                self.call("load markets", self.api.load_markets)
                self._markets_loaded = True
        return self.api.markets

    def market(self, pair: str) -> dict:
        markets = self.load_markets()
        if pair not in markets:
            raise PermanentError(f"{pair}: {self.id} has no such spot market; check market.pairs")
        return markets[pair]


def make_exchange(settings: Settings, keys: ApiKeys | None, rules: VenueRules) -> ExchangeClient:
    """The ccxt client for the configured exchange: rate limiter on, sandbox for testnet,
    exchange.base_url if set, and the exchange's own `rules` (engine.wiring.venue_rules
    picks them)."""
    cfg = settings.exchange
    exchange_class = getattr(ccxt, cfg.id)
    options: dict[str, Any] = {"defaultType": "spot", **rules.options}
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": int(cfg.timeout_seconds * 1000),
        "options": options,
    }
    if keys is not None:
        config |= {"apiKey": keys.key, "secret": keys.secret}
    api = exchange_class(config)
    # A kept connection for each concurrent read (requests keeps 10 a host by default).
    connections = HTTPAdapter(pool_maxsize=cfg.max_concurrent_requests)
    for scheme in ("https://", "http://"):
        api.session.mount(scheme, connections)
    if settings.sandbox:
        try:
            api.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise ConfigError(
                f"exchange.id: {cfg.id} has no testnet in ccxt; use mode = 'paper' with "
                "feed.kind = 'ccxt' to try it on real prices"
            ) from None
    if cfg.base_url:  # after the sandbox switch: the configured host wins
        point_at(api, cfg.base_url)
    needed = FEED_CALLS + (BROKER_CALLS if settings.broker.kind == "ccxt" else ())
    missing = [call for call in needed if not api.has.get(call)]
    if missing:
        raise ConfigError(f"exchange.id: ccxt's {cfg.id} lacks {', '.join(missing)}")
    return ExchangeClient(api, settings.mode, keys, rules)
