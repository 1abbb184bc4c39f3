"""Real market data through ccxt: closed candles and the last traded price (public calls)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from config import timeframe_seconds
from engine.venues.ccxt.exchange import ExchangeClient
from engine.venues.feed import CANDLE_COLUMNS

PAGE_CANDLES = 1000  # the most Binance returns per klines request


class CcxtFeed:
    simulated = False

    def __init__(
        self, exchange: ExchangeClient, timeframe: str, concurrent_requests: int = 1
    ) -> None:
        self.exchange = exchange
        self.timeframe = timeframe
        # How many pairs' candles a tick may read at once (exchange.max_concurrent_requests):
        # the client's weight budget and pause hold for all of them together.
        self.concurrent_requests = concurrent_requests
        self.step_ms = timeframe_seconds(timeframe) * 1000
        self.name = f"ccxt {exchange.id}"[:16]

    def candles(self, pair: str, until: datetime, limit: int) -> pd.DataFrame:
        """The last `limit` candles closed at `until`; the one still forming is left out."""
        forming = int(until.timestamp() * 1000) // self.step_ms * self.step_ms
        since = forming - limit * self.step_ms
        rows: list[list] = []
        self.exchange.load_markets()  # once, before concurrent reads would each load them
        while since < forming:
            want = min(PAGE_CANDLES, (forming - since) // self.step_ms)
            page = self.exchange.call(
                f"{pair} candles",
                self.exchange.api.fetch_ohlcv,
                pair,
                self.timeframe,
                since,
                want,
            )
            rows += [row for row in page if since <= row[0] < forming]
            if len(page) < want:
                break
            since = page[-1][0] + self.step_ms
        if not rows:
            return pd.DataFrame(columns=CANDLE_COLUMNS, index=pd.DatetimeIndex([], tz=UTC))
        frame = pd.DataFrame(rows, columns=["ts", *CANDLE_COLUMNS]).drop_duplicates("ts")
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("ts"), unit="ms", utc=True))
        frame.index.name = "ts"
        return frame.astype(float).tail(limit)

    def opening_price(self, pair: str, now: datetime) -> float:
        """A live market's price for an order sent now: its last trade (the ticker)."""
        return self.last_price(pair)

    def last_price(self, pair: str) -> float:
        """The last traded price from the ticker: fresher than the last closed candle."""
        ticker = self.exchange.call(f"{pair} ticker", self.exchange.api.fetch_ticker, pair)
        return float(ticker["last"])
