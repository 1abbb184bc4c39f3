"""Reading every pair's candles at once keeps the feed's failure rules: each pair's fault is
its own, met in its turn, and once one pair found the feed down after its retries, the pairs
that start after it try once."""

import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from engine.trading.account import Account
from engine.trading.fetch import FEED_ATTEMPTS, Fetcher
from engine.trading.loop import TickReport
from engine.venues.errors import FeedUnavailable, TemporaryError
from engine.venues.feed import CANDLE_COLUMNS

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
PAIRS = [f"P{n}/USDT" for n in range(6)]


class CountingFeed:
    """A feed read by several threads at once; `down` pairs' reads always fail. Its first
    two reads wait for each other: both are in flight together."""

    name, simulated = "counting", False

    def __init__(self, concurrent_requests: int, down: set[str]) -> None:
        self.concurrent_requests, self.down = concurrent_requests, down
        self.reads: list[str] = []
        self._lock = threading.Lock()
        self._first_two = threading.Barrier(min(2, concurrent_requests))

    def candles(self, pair: str, until: datetime, limit: int) -> pd.DataFrame:
        with self._lock:
            self.reads.append(pair)
            first = len(self.reads) <= 2
        if first:
            self._first_two.wait(timeout=10)
        if pair in self.down:
            raise TemporaryError(f"{pair}: connection reset")
        index = pd.date_range(until - timedelta(minutes=5 * limit), periods=limit, freq="5min")
        return pd.DataFrame(1.0, index=index, columns=CANDLE_COLUMNS)


def fetcher_of(feed: CountingFeed) -> Fetcher:
    account = Account(factory=None, clock=None, feed=feed, broker=None, gate=None)
    return Fetcher(account, timedelta(minutes=5), 10, set())


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr("engine.venues.retry.sleep", lambda seconds: None)


def test_once_a_pair_found_the_feed_down_the_pairs_starting_after_it_try_once():
    feed = CountingFeed(concurrent_requests=2, down=set(PAIRS))
    reads = fetcher_of(feed).read_all(PAIRS, NOW)

    assert all(isinstance(read, FeedUnavailable) for read in reads.values())
    # The first two (in flight together) retried in full; each later one tried once.
    assert len(feed.reads) == 2 * FEED_ATTEMPTS + (len(PAIRS) - 2)


def test_a_pairs_failed_read_is_raised_in_its_turn_and_the_others_are_read():
    feed = CountingFeed(concurrent_requests=3, down={PAIRS[1]})
    fetcher = fetcher_of(feed)
    reads = fetcher.read_all(PAIRS, NOW)
    report = TickReport()

    with pytest.raises(FeedUnavailable, match="connection reset"):
        fetcher.new_candles(PAIRS[1], NOW, report, reads[PAIRS[1]])
    for pair in PAIRS[:1] + PAIRS[2:]:
        assert fetcher.new_candles(pair, NOW, report, reads[pair]).pair == pair
    assert report.new_candles


def test_a_feed_without_concurrent_reads_is_read_in_each_pairs_turn():
    feed = CountingFeed(concurrent_requests=1, down=set())
    fetcher = fetcher_of(feed)
    assert fetcher.read_all(PAIRS, NOW) == {}
    for pair in PAIRS:
        fetcher.new_candles(pair, NOW, TickReport())
    assert feed.reads == PAIRS
