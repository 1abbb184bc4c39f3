"""The exchange obeyed, against the loopback Binance: a 429's Retry-After pauses every call of
the client (feed and broker, any thread) until it ends; the reads reconciliation and risk need
are retried; live-mode market loading makes no signed /sapi call."""

import threading
from datetime import UTC, datetime

import pytest

from config import load_config
from config.keys import load_api_keys
from engine.trading.reconcile import reconcile
from engine.venues.ccxt.exchange import RateLimited, make_exchange
from engine.venues.errors import TemporaryError
from engine.venues.retry import with_retries
from engine.wiring import venue_rules
from tests.support.binance import TESTNET

ACCOUNT = "/api/v3/account"
KLINES = "/api/v3/klines"


class FakeMonotonic:
    """The client's monotonic clock, moved only by the retries' waits: a pause ends when the
    test says, never by wall time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(trader, monkeypatch):
    trader.exchange.load_markets()  # before the test's requests are counted
    fake_clock = FakeMonotonic()
    trader.exchange.clock = fake_clock
    monkeypatch.setattr("engine.venues.retry.sleep", fake_clock.sleep)
    return fake_clock


@pytest.fixture
def stamped(fake, clock, monkeypatch):
    """Each request the loopback exchange receives, with the client's clock when it came."""
    log: list[tuple[float, str]] = []
    handle = fake.handle

    def stamp(method, path, query, body, headers):
        log.append((clock(), path))
        return handle(method, path, query, body, headers)

    monkeypatch.setattr(fake, "handle", stamp)
    return log


def attempt(read) -> Exception | None:
    try:
        read()
    except TemporaryError as exc:
        return exc
    return None


def candles(trader):
    return trader.feed.candles("BTC/USDT", datetime.now(UTC), 10)


def test_a_429_sends_nothing_more_until_its_retry_after_ends(trader, fake, clock, stamped):
    fake.rate_limit_next("GET", KLINES, retry_after=20)
    limited_at = clock()
    # A tick's reads during the window: the candle read (with its retries), the balance,
    # the other pair's candles.
    refusals = [
        attempt(lambda: with_retries(lambda: candles(trader), "candles")),
        attempt(trader.broker.cash),
        attempt(lambda: trader.feed.candles("ETH/USDT", datetime.now(UTC), 10)),
    ]
    after_the_429 = [path for at, path in stamped[1:] if at < limited_at + 20]
    assert after_the_429 == [], "requests were sent during the Retry-After window"
    assert "HTTP 429): no calls for 20 s" in str(refusals[0])  # longer than a step waits
    assert all(isinstance(error, RateLimited) for error in refusals)
    clock.now += 20
    assert trader.broker.cash() > 0  # once it ends, calls go again
    assert stamped[-1][1] == ACCOUNT


def test_a_short_retry_after_is_waited_out_by_the_retry_then_the_read_succeeds(
    trader, fake, clock, stamped
):
    fake.rate_limit_next("GET", ACCOUNT, retry_after=3)
    assert trader.broker.cash() > 0
    (first, second) = [at for at, path in stamped if path == ACCOUNT]
    assert second - first >= 3  # on the client's clock, not the backoff's 0.01 s
    assert max(clock.waits) >= 3


def test_a_429_pauses_calls_from_every_thread(trader, fake, clock, stamped):
    fake.rate_limit_next("GET", KLINES, retry_after=20)
    with pytest.raises(RateLimited):
        candles(trader)
    refused: list[Exception] = []

    def read_balance() -> None:
        try:
            trader.exchange.call("balances", trader.exchange.api.fetch_balance)
        except RateLimited as exc:
            refused.append(exc)

    threads = [threading.Thread(target=read_balance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(refused) == 4
    assert [path for _at, path in stamped] == [KLINES]


def test_one_event_per_pause_naming_the_exchange_and_the_seconds(trader, fake, clock, events):
    fake.rate_limit_next("GET", KLINES, retry_after=20)
    for _ in range(3):
        with pytest.raises(RateLimited):
            with_retries(lambda: candles(trader), "candles")
    pauses = [e for e in events() if e.kind == "exchange_rate_limit"]
    assert len(pauses) == 1
    assert "binance" in pauses[0].message and "20 s" in pauses[0].message
    # The Control page shows the monitor's last error: the pause is there.
    assert "HTTP 429" in trader.exchange.monitor.last_error
    assert "20 s" in trader.exchange.monitor.last_error


def test_a_429_without_retry_after_pauses_a_little_longer_each_time(trader, fake, clock):
    fake.rate_limit_next("GET", KLINES, retry_after=None)
    fake.rate_limit_next("GET", KLINES, retry_after=None)
    with pytest.raises(RateLimited, match="no calls for 1 s"):
        candles(trader)
    clock.now += 1
    with pytest.raises(RateLimited, match="no calls for 2 s"):
        candles(trader)
    clock.now += 2
    assert len(candles(trader)) > 0


# --- the reads reconciliation and risk need ---------------------------------------------------
def test_a_502_on_the_balance_read_is_retried(trader, fake, clock):
    fake.fail_next("GET", ACCOUNT, 502)
    assert trader.broker.cash() > 0
    assert len(fake.calls("GET", ACCOUNT)) == 2


def test_a_502_on_the_open_orders_read_is_retried(trader, fake, clock):
    fake.fail_next("GET", "/api/v3/openOrders", 502)
    assert trader.broker.open_orders() == []
    assert len(fake.calls("GET", "/api/v3/openOrders")) == 3  # one failed, then both pairs


def test_a_502_on_the_recent_fills_read_is_retried(trader, fake, clock):
    fake.fail_next("GET", "/api/v3/myTrades", 502)
    assert trader.broker.orders() == []


def test_a_timestamp_outside_recv_window_on_the_balance_read_is_retried(trader, fake, clock):
    fake.clock_offset_ms = 10_000  # the exchange's clock runs ahead: -1021 until re-synced
    assert trader.broker.cash() > 0
    assert len(fake.calls("GET", ACCOUNT)) == 2
    assert len(fake.calls("GET", "/api/v3/time")) >= 1  # the clock was re-synced between


def test_reconciliation_survives_one_502_on_each_read_it_needs(trader, fake, clock):
    for path in ("/api/v3/openOrders", "/api/v3/myTrades", ACCOUNT):
        fake.fail_next("GET", path, 502)
    reconcile(trader)  # before: "unreachable or busy" failed the step
    assert [f for f in fake.faults if f.get("status") == 502] == []  # each one was met


# --- live-mode market loading ---------------------------------------------------------------
def test_live_market_loading_calls_no_signed_sapi_endpoint(fake, tmp_path, settings):
    path = tmp_path / "live.toml"
    live = TESTNET.format(timeout=3.0).replace('mode = "testnet"', 'mode = "live"')
    path.write_text(f'{live}allow_live = true\nbase_url = "{fake.url}"\n')
    settings = load_config(path)
    client = make_exchange(settings, load_api_keys(), venue_rules(settings))
    client.api.rateLimit = 1
    assert client.api.apiKey and not client.api.options.get("sandboxMode")  # live, signed
    client.load_markets()
    assert "BTC/USDT" in client.api.markets
    paths = fake.paths()
    assert "/api/v3/exchangeInfo" in paths
    assert [p for p in paths if p.startswith("/sapi")] == []
