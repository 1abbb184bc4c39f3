"""The replay market: stored candles played back on the engine's clock. A candle is served
only once the clock has passed its close, so the engine never sees one it could not have."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from config import ConfigError, Settings, timeframe_seconds
from data.candles.store import CandleStore

log = logging.getLogger("volt.replay")


@dataclass(frozen=True)
class ReplaySpan:
    """The stored candles every replayed pair has: open times of the latest first candle and
    of the latest last one."""

    first: datetime
    last: datetime


def replay_exchange(settings: Settings) -> str:
    return settings.replay.exchange or settings.exchange.id


def replay_span(settings: Settings, store: CandleStore | None = None) -> ReplaySpan:
    """Where the stored series of market.pairs begin and end; ConfigError when one is absent."""
    store = store or CandleStore.default()
    exchange, timeframe = replay_exchange(settings), settings.market.timeframe
    firsts, lasts = [], []
    for pair in settings.market.pairs:
        stored = store.read(exchange, pair, timeframe).index
        if stored.empty:
            raise ConfigError(
                f"feed.kind = 'replay': no stored {pair} {timeframe} candles from {exchange} "
                f"in {store.root}; fetch them with `python -m engine download --pairs {pair} "
                f"--timeframe {timeframe}` or `python -m engine import FILE`"
            )
        firsts.append(stored[0].to_pydatetime())
        lasts.append(stored[-1].to_pydatetime())
    return ReplaySpan(max(firsts), max(lasts))


def replay_start(
    settings: Settings,
    resume: datetime | Sequence[datetime] | None = None,
    store: CandleStore | None = None,
) -> datetime:
    """The market time a replay begins at: replay.start, else the first stored candle plus
    the warm-up the engine reads (market.history_candles). A restarted worker resumes where
    the last one stopped, if that lies within the replay; given several times (best first),
    at the first that does."""
    span = replay_span(settings, store)
    step = timedelta(seconds=timeframe_seconds(settings.market.timeframe))
    start = settings.replay.start or span.first + step * settings.market.history_candles
    if start > span.last + step:
        raise ConfigError(
            f"replay.start {start:%Y-%m-%d %H:%M} is after the last stored candle "
            f"({span.last:%Y-%m-%d %H:%M} UTC); download more or start earlier"
        )
    times = [resume] if isinstance(resume, datetime) else list(resume or [])
    return next((time for time in times if start <= time <= span.last + step), start)


def describe_replay(settings: Settings, store: CandleStore | None = None) -> str:
    """What a replay plays back, in one phrase for `python -m engine check`."""
    span, start = replay_span(settings, store), replay_start(settings, store=store)
    return (
        f"stored {replay_exchange(settings)} candles {span.first:%Y-%m-%d %H:%M} to "
        f"{span.last:%Y-%m-%d %H:%M} UTC, starting {start:%Y-%m-%d %H:%M}"
    )


class ReplayFeed:
    """Closed stored candles as of the clock's `now`; past the end of the data, no new ones."""

    simulated = True  # not the live market: a past one, on a clock of its own

    def __init__(self, store: CandleStore, exchange: str, timeframe: str) -> None:
        self.store = store
        self.exchange = exchange
        self.timeframe = timeframe
        self.name = f"replay {exchange}"[:16]
        self._step = np.timedelta64(timeframe_seconds(timeframe), "s")
        self._series: dict[str, tuple[np.ndarray, pd.DataFrame]] = {}
        self._ended: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings, store: CandleStore | None = None) -> ReplayFeed:
        return cls(
            store or CandleStore.default(), replay_exchange(settings), settings.market.timeframe
        )

    def candles(self, pair: str, until: datetime, limit: int) -> pd.DataFrame:
        """The last `limit` stored candles whose close is at or before `until`."""
        opens, frame = self._load(pair)
        latest_open = np.datetime64(until.astimezone(UTC).replace(tzinfo=None), "ns") - self._step
        closed = int(np.searchsorted(opens, latest_open, side="right"))
        if closed == len(opens) and len(opens) and latest_open >= opens[-1] + self._step:
            self._note_end(pair, frame.index[-1])
        return frame.iloc[max(0, closed - max(limit, 0)) : closed]

    def opening_price(self, pair: str, now: datetime) -> float | None:
        """The stored open of the candle forming at `now` (open time <= now < its close):
        its first price, the rest of it still unseen. None in a gap or past the end."""
        opens, frame = self._load(pair)
        at = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "ns")
        forming = int(np.searchsorted(opens, at, side="right")) - 1
        if forming < 0 or at >= opens[forming] + self._step:
            return None
        return float(frame["open"].iat[forming])

    def _load(self, pair: str) -> tuple[np.ndarray, pd.DataFrame]:
        series = self._series.get(pair)
        if series is None:
            frame = self.store.read(self.exchange, pair, self.timeframe)
            if frame.empty:
                raise ConfigError(
                    f"feed.kind = 'replay': no stored {pair} {self.timeframe} candles from "
                    f"{self.exchange} in {self.store.root}"
                )
            opens = frame.index.tz_convert(None).to_numpy(dtype="datetime64[ns]")
            series = self._series[pair] = (opens, frame)
        return series

    def _note_end(self, pair: str, last_open: pd.Timestamp) -> None:
        if pair in self._ended:
            return
        self._ended.add(pair)
        log.warning(
            "replay of %s %s from %s ended: the last stored candle opened at %s UTC; no new "
            "candles from here (entries pause on stale data, exits keep working)",
            pair,
            self.timeframe,
            self.exchange,
            f"{last_open:%Y-%m-%d %H:%M}",
            extra={"kind": "replay_ended"},
        )
