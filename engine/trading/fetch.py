"""Fetching each pair's new candles: all of them after an outage, so no stop is missed,
and a watch on pairs whose candles stopped coming (their entries wait)."""

from __future__ import annotations

import logging
import math
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

    def new_candles(self, pair: str, now: datetime, report: TickReport) -> NewCandles | None:
        """The pair's new candles, or None when there are none."""
        account = self.account
        last_seen = account.last_candle.get(pair)
        limit = self.history_candles
        if last_seen is not None:
            # After an outage, fetch every candle since the last one seen, so no stop is missed.
            missed = math.ceil((now - last_seen) / self.candle_length) + 1
            limit = min(max(limit, missed), MAX_CATCH_UP_CANDLES)
        feed = account.feed
        try:
            candles = with_retries(
                lambda: feed.candles(pair, now, limit),
                f"{pair} candles from {feed.name}",
                attempts=1 if self.feed_down else FEED_ATTEMPTS,
            )
        except TemporaryError as exc:
            self.feed_down = True
            raise FeedUnavailable(str(exc)) from exc
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
