"""Fetching each pair's new candles: all of them after an outage, so no stop is missed,
read for all pairs at once where the feed allows it, and a watch on pairs whose candles
stopped coming (their entries wait)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from data.market.indicators import candle_arrays
from engine.trading.account import Account
from engine.venues.errors import FeedUnavailable, TemporaryError
from engine.venues.retry import with_retries

if TYPE_CHECKING:
    from engine.trading.loop import TickReport

log = logging.getLogger("volt.trader")
STALE_AFTER_CANDLES = 2  # no new candle for this many timeframes pauses entries
MAX_CATCH_UP_CANDLES = 20_000  # after an outage, check stops over at most this many
FEED_ATTEMPTS = 4
# A pair's read: its candles, or what its read raised (raised again in the pair's turn).
CandleRead = pd.DataFrame | Exception


@dataclass(frozen=True)
class NewCandles:
    pair: str
    window: pd.DataFrame  # the decision window
    fresh: pd.DataFrame  # candles not seen before
    latest: datetime


class Fetcher:
    def __init__(
        self,
        account: Account,
        candle_length: timedelta,
        history_candles: int,
        stale: set[str],
    ) -> None:
        self.account, self.candle_length = account, candle_length
        self.history_candles = history_candles
        self.stale = stale  # pairs whose entries wait for fresh candles (shared)
        # Once the feed failed after full retries, the other pairs try only once this
        # tick: backoff piled up across pairs would look like a hang.
        self.feed_down = False

    def read_all(self, pairs: Iterable[str], now: datetime) -> dict[str, CandleRead]:
        """Every pair's candles read at once, as many in flight as the feed allows
        (`concurrent_requests`, within the exchange's weight budget and pauses); nothing
        read here when it allows one at a time (synthetic, replay): each pair then reads
        in its turn, as a backtest does."""
        workers = getattr(self.account.feed, "concurrent_requests", 1)
        pairs = list(pairs)
        if workers <= 1 or len(pairs) <= 1:
            return {}
        with ThreadPoolExecutor(min(workers, len(pairs)), "volt-candles") as pool:
            reads = {pair: pool.submit(self._read_or_error, pair, now) for pair in pairs}
            return {pair: read.result() for pair, read in reads.items()}

    def new_candles(
        self, pair: str, now: datetime, report: TickReport, read: CandleRead | None = None
    ) -> NewCandles | None:
        """The pair's new candles, or None when there are none; `read` is its candles read
        beforehand (`read_all`), else they are read now."""
        if read is None:
            read = self._read(pair, now)
        elif isinstance(read, Exception):
            raise read
        return self._new(pair, read, report)

    def _read_or_error(self, pair: str, now: datetime) -> CandleRead:
        try:
            return self._read(pair, now)
        except Exception as exc:  # any fault is the pair's, met in its turn of the tick
            return exc

    def _read(self, pair: str, now: datetime) -> pd.DataFrame:
        last_seen = self.account.last_candle.get(pair)
        limit = self.history_candles
        if last_seen is not None:
            # After an outage, fetch every candle since the last one seen, so no stop is missed.
            missed = math.ceil((now - last_seen) / self.candle_length) + 1
            limit = min(max(limit, missed), MAX_CATCH_UP_CANDLES)
        feed = self.account.feed
        try:
            return with_retries(
                lambda: feed.candles(pair, now, limit),
                f"{pair} candles from {feed.name}",
                # Read at once, the pairs still to start try once after one found it down.
                attempts=1 if self.feed_down else FEED_ATTEMPTS,
            )
        except TemporaryError as exc:
            self.feed_down = True
            raise FeedUnavailable(str(exc)) from exc

    def _new(self, pair: str, candles: pd.DataFrame, report: TickReport) -> NewCandles | None:
        account = self.account
        last_seen = account.last_candle.get(pair)
        if candles.empty:
            return None
        account.marks[pair] = float(candle_arrays(candles)["close"][-1])
        fresh = candles
        if last_seen is not None:
            fresh = candles.iloc[candles.index.searchsorted(last_seen, side="right") :]
        if fresh.empty:
            return None
        report.new_candles = True
        window = candles
        if len(candles) > self.history_candles:
            window = candles.iloc[-self.history_candles :]
        return NewCandles(pair, window, fresh, candles.index[-1].to_pydatetime())

    def watch_staleness(self, pair: str, now: datetime) -> None:
        last = self.account.last_candle.get(pair)
        if last is None:
            return
        waited = now - (last + self.candle_length)
        stale = waited > STALE_AFTER_CANDLES * self.candle_length
        if stale and pair not in self.stale:
            self.stale.add(pair)
            log.warning(
                "no new %s candle for %.0f min: new entries paused for it; exits keep working",
                pair,
                waited.total_seconds() / 60,
                extra={"kind": "stale_data"},
            )
        elif not stale and pair in self.stale:
            self.stale.discard(pair)
            log.info(
                "%s candles are fresh again: entries resume", pair, extra={"kind": "stale_data"}
            )
