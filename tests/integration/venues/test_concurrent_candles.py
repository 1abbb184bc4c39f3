"""Many pairs on a real exchange, against the loopback Binance answering each request late: a
tick reads every pair's candles at once, never more in flight than
exchange.max_concurrent_requests, every call of them still under the client's pause, and
reads the same candles as one pair after another."""

import time
from datetime import UTC, datetime

import pandas as pd
import pytest

from engine.venues.ccxt.exchange import RateLimited
from engine.venues.errors import FeedUnavailable

KLINES = "/api/v3/klines"
POOL = 10  # exchange.max_concurrent_requests, the default (not set in the test config)


@pytest.fixture
def pairs(trader, fake):
    """20 pairs more on the exchange, each request answered after 100 ms."""
    added = fake.add_markets(20)
    trader.exchange.load_markets()
    trader.exchange.api.load_markets(reload=True)  # with the new markets
    fake.latency_seconds = 0.1
    return added


def test_a_tick_reads_its_pairs_candles_at_once_within_the_pool(trader, fake, pairs):
    reads = trader.fetcher.read_all(pairs, datetime.now(UTC))

    assert all(isinstance(reads[pair], pd.DataFrame) and len(reads[pair]) for pair in pairs)
    assert len(fake.calls("GET", KLINES)) == len(pairs)
    assert 2 <= fake.most_in_flight <= POOL


def test_the_pool_is_exchange_max_concurrent_requests(trader, fake, pairs):
    trader.feed.concurrent_requests = 3
    trader.fetcher.read_all(pairs, datetime.now(UTC))

    assert 2 <= fake.most_in_flight <= 3


def test_read_at_once_the_candles_are_those_read_one_pair_after_another(trader, pairs):
    now = datetime.now(UTC)
    together = trader.fetcher.read_all(pairs, now)
    for pair in pairs:
        pd.testing.assert_frame_equal(together[pair], trader.feed.candles(pair, now, 60))


def test_a_feed_that_reads_one_at_a_time_is_read_in_each_pairs_turn(trader, fake, pairs):
    trader.feed.concurrent_requests = 1  # as synthetic and replay feeds: backtest == live
    assert trader.fetcher.read_all(pairs, datetime.now(UTC)) == {}
    assert fake.calls("GET", KLINES) == []


def test_a_429_while_reading_at_once_stops_every_other_read_from_being_sent(trader, fake, pairs):
    fake.latency_seconds = 0.3  # the first wave is still in flight when the 429 is answered
    fake.rate_limit_next("GET", KLINES, retry_after=20)

    reads = trader.fetcher.read_all(pairs, datetime.now(UTC))

    # Only the reads already in flight when the 429 came were sent; none after it.
    assert len(fake.calls("GET", KLINES)) <= POOL
    failed = [read for read in reads.values() if isinstance(read, Exception)]
    assert len(failed) >= len(pairs) - POOL + 1
    assert all(isinstance(error, FeedUnavailable) for error in failed)
    assert all(isinstance(error.__cause__, RateLimited) for error in failed)
    assert all("HTTP 429" in str(error) for error in failed)


def test_a_429_is_read_from_its_own_answer_not_the_last_one_the_client_saw(trader, fake, pairs):
    # ccxt keeps the last answer's headers on the client shared by every thread: another
    # read's answer landing before the 429 is handled must not lose its Retry-After.
    api = trader.exchange.api
    handle_errors = api.handle_errors

    def another_answer_lands_first(code, *rest):
        if code == 429:
            api.last_response_headers = {"Content-Type": "application/json"}
        return handle_errors(code, *rest)

    api.handle_errors = another_answer_lands_first
    fake.rate_limit_next("GET", KLINES, retry_after=20)

    with pytest.raises(RateLimited, match="no calls for 20 s"):
        trader.feed.candles(pairs[0], datetime.now(UTC), 10)


def test_a_tick_reads_every_pair_at_once_and_decides_in_pair_order(trader, fake):
    fake.latency_seconds = 0.1
    report = trader.tick()

    assert report.succeeded and report.new_candles and report.skipped == {}
    assert fake.most_in_flight == 2  # both pairs' candles in flight together
    assert list(trader.account.last_candle) == trader.pairs  # booked in the pairs' order


def test_a_read_waiting_for_weight_is_not_sent_once_another_read_met_a_429(trader, fake):
    exchange = trader.exchange
    exchange.load_markets()
    budget = exchange.weights
    now = [time.monotonic() + budget.window]  # what loading the markets spent has aged out
    budget.clock = lambda: now[0]
    budget.spend(budget.budget())  # the window's weight all spent: the next read waits

    def meanwhile(seconds: float) -> None:  # another thread's read meets a 429 meanwhile
        exchange._rate_limited("ETH/USDT candles")
        now[0] += seconds

    budget.sleep = meanwhile
    with pytest.raises(RateLimited, match="not sent"):
        trader.feed.candles("BTC/USDT", datetime.now(UTC), 10)
    assert not fake.calls("GET", KLINES)
