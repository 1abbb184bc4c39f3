"""Public candles from an exchange into the candle store: paged within the exchange's limit
and rate limiter, incremental (only what the store lacks is asked for) and resumable (each
page is stored as it arrives, so an interruption loses at most the page in flight)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from tqdm import tqdm

from config import timeframe_seconds
from data.candles.store import CANDLE_COLUMNS, CandleStore
from engine.venues.ccxt.exchange import ExchangeClient
from engine.venues.errors import PermanentError, TemporaryError
from engine.venues.retry import with_retries

log = logging.getLogger("volt.download")
DEFAULT_PAGE_CANDLES = 500  # when ccxt does not say how many candles one call may return
# A candle counts as closed this long after its close on our clock: a clock a little ahead
# of the exchange's must not store a candle still forming there. The next run fetches it.
CLOSE_MARGIN = timedelta(seconds=10)


class DownloadError(Exception):
    """The download cannot go on; the message is one line saying why and what to do."""


@dataclass(frozen=True)
class Downloaded:
    """What one pair's download did."""

    pair: str
    timeframe: str
    added: int  # candles new to the store
    requests: int
    first: datetime | None  # the stored series' span after the download
    last: datetime | None


def page_candles(client: ExchangeClient) -> int:
    """The most candles one fetch_ohlcv call returns on this exchange (ccxt's features)."""
    features = client.api.features or {}
    spot = features.get("spot") or {}
    limit = (spot.get("fetchOHLCV") or {}).get("limit")
    return int(limit) if limit else DEFAULT_PAGE_CANDLES


def check_request(client: ExchangeClient, pairs: list[str], timeframe: str) -> None:
    """Refuse an unknown timeframe or pair before any candle is fetched."""
    offered = client.api.timeframes or {}
    if offered and timeframe not in offered:
        raise DownloadError(
            f"--timeframe {timeframe}: {client.id} offers {', '.join(offered)}; pick one of them"
        )
    try:
        markets = with_retries(client.load_markets, f"{client.id} markets")
    except TemporaryError as exc:
        raise DownloadError(f"{client.id} unreachable: {_first_line(exc)}") from None
    except PermanentError as exc:
        raise DownloadError(f"{client.id} refused to list its markets: {exc}") from None
    unknown = [pair for pair in pairs if pair not in markets]
    if unknown:
        raise DownloadError(
            f"--pairs {' '.join(unknown)}: {client.id} has no such market "
            "(pairs look like BTC/USDT)"
        )


class CandleDownload:
    """Fill the store's series of one exchange and timeframe from `since` to the last
    closed candle before `now`."""

    def __init__(
        self,
        client: ExchangeClient,
        store: CandleStore,
        timeframe: str,
        show_progress: bool | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.timeframe = timeframe
        self.step_ms = timeframe_seconds(timeframe) * 1000
        self.limit = page_candles(client)
        self.show_progress = show_progress  # None: a bar only on a terminal

    def pair(self, pair: str, since: datetime, now: datetime | None = None) -> Downloaded:
        now = now or datetime.now(UTC)
        forming = _ms(now - CLOSE_MARGIN) // self.step_ms * self.step_ms
        start = -(-_ms(since) // self.step_ms) * self.step_ms  # the first open at or after it
        added = requests = 0
        for begin, end in self._missing(pair, start, forming):
            got, asked = self._fetch(pair, begin, end)
            added, requests = added + got, requests + asked
        first, last = self._span(pair)
        return Downloaded(pair, self.timeframe, added, requests, first, last)

    def _missing(self, pair: str, start: int, forming: int) -> list[tuple[int, int]]:
        """The spans [begin, end) of open times the store lacks: before its first candle
        and after its last. Gaps inside were the exchange's own and are not asked again."""
        first, last = self._span(pair)
        if last is None:
            return [(start, forming)] if start < forming else []
        spans = []
        if start < _ms(first):
            spans.append((start, min(_ms(first), forming)))
        tail = max(start, _ms(last) + self.step_ms)
        if tail < forming:
            spans.append((tail, forming))
        return spans

    def _fetch(self, pair: str, begin: int, end: int) -> tuple[int, int]:
        """Page through [begin, end), storing each page before asking for the next."""
        added = requests = 0
        cursor = begin
        with tqdm(
            total=(end - begin) // self.step_ms,
            desc=f"{pair} {self.timeframe}",
            unit=" candles",
            disable=None if self.show_progress is None else not self.show_progress,
            leave=False,
        ) as bar:
            while cursor < end:
                try:
                    rows = self._page(pair, cursor, end)
                except (TemporaryError, PermanentError) as exc:
                    raise DownloadError(
                        f"{pair} {self.timeframe}: stopped at {_when(cursor)} "
                        f"({_first_line(exc)}); {added} candles stored; run the same command "
                        "again to resume"
                    ) from None
                requests += 1
                if not rows:
                    break  # nothing more on the exchange in this span
                added += self.store.write(self.client.id, pair, self.timeframe, _frame(rows))
                done, cursor = cursor, int(rows[-1][0]) + self.step_ms
                bar.update((min(cursor, end) - done) // self.step_ms)
        return added, requests

    def _page(self, pair: str, since: int, end: int) -> list[list]:
        """One fetch_ohlcv call (retried if temporary): the candles opening in [since, end)."""
        client = self.client

        def fetch() -> list[list]:
            until = {"until": end - 1}  # the exchange need not send what would be dropped
            args = (pair, self.timeframe, since, self.limit, until)
            return client.call(f"{pair} {self.timeframe} candles", client.api.fetch_ohlcv, *args)

        rows = with_retries(fetch, f"{pair} candles from {_when(since)}")
        return [row for row in rows if since <= row[0] < end]

    def _span(self, pair: str) -> tuple[datetime | None, datetime | None]:
        stored = self.store.read(self.client.id, pair, self.timeframe).index
        if stored.empty:
            return None, None
        return stored[0].to_pydatetime(), stored[-1].to_pydatetime()


def _frame(rows: list[list]) -> pd.DataFrame:
    frame = pd.DataFrame([row[:6] for row in rows], columns=["ts", *CANDLE_COLUMNS])
    frame = frame.drop_duplicates("ts", keep="last")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("ts"), unit="ms", utc=True), name="ts")
    return frame.astype(float)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
