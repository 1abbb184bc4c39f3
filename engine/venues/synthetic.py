"""The synthetic market: a feed of closed candles, seeded, offline and regime-switching."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from config import timeframe_seconds
from engine.venues.feed import CANDLE_COLUMNS

_LABELS = pd.Index(CANDLE_COLUMNS, dtype=object)
SYNTHETIC_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
BLOCK = 2048  # candles generated per seeded block
MEAN_REVERSION = 0.0005  # per candle, per unit of log distance from the start price
_START_PRICES = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0, "BNB": 600.0}

# Regimes: (name, drift per candle, volatility per candle, mean length in candles).
_REGIMES = [
    ("range", 0.0, 0.0015, 120),
    ("uptrend", 0.0006, 0.0020, 80),
    ("downtrend", -0.0006, 0.0020, 80),
    ("volatile", 0.0, 0.0060, 40),
]
_REGIME_ODDS = [0.45, 0.2, 0.2, 0.15]


class SyntheticFeed:
    """Deterministic market: the same seed, pair and time always give the same candle."""

    name = "synthetic"
    simulated = True

    def __init__(self, seed: int, timeframe: str, epoch: datetime = SYNTHETIC_EPOCH) -> None:
        self.seed = seed
        self.step = timeframe_seconds(timeframe)
        self.epoch = epoch
        self._vol_scale = np.sqrt(self.step / 300.0)
        # Only the blocks the last request spanned are kept, so a run's memory stays flat
        # however long it goes; each block's first price is kept to make any block again.
        self._starts: dict[str, list[float]] = {}  # pair -> first price of block 0, 1, ...
        self._blocks: dict[str, dict[int, dict[str, np.ndarray]]] = {}  # pair -> kept blocks
        self._paths: dict[str, tuple[int, dict[str, np.ndarray]]] = {}  # (first candle, path)
        self._index: tuple[int, pd.DatetimeIndex] | None = None  # (first candle, open times)

    def candles(self, pair: str, until: datetime, limit: int) -> pd.DataFrame:
        closed = int((until - self.epoch).total_seconds() // self.step)
        first = max(0, closed - limit)
        if closed <= 0:
            return pd.DataFrame(columns=CANDLE_COLUMNS, index=pd.DatetimeIndex([], tz=UTC))
        return self._ohlcv(pair, first, closed, self._times(first, closed))

    def opening_price(self, pair: str, now: datetime) -> float:
        """The open of the candle forming at `now`: the close before it (each candle here
        opens where the last one closed), so nothing of the forming candle is revealed."""
        forming = max(0, int((now - self.epoch).total_seconds() // self.step))
        offset, path = self._path(pair, max(0, forming - 1), forming + 1)
        closes = path["close"]
        return float(closes[forming - 1 - offset] if forming > 0 else closes[0])

    def _times(self, first: int, stop: int) -> pd.DatetimeIndex:
        """Open times of candles [first, stop), sliced from an index kept for the run: a
        tick asks for the same few hundred times, moved on by one."""
        cached = self._index
        if cached is None or cached[0] > first or cached[0] + len(cached[1]) < stop:
            start, end = first, max(stop, first + 2 * BLOCK)
            if self.epoch.tzinfo is UTC and float(self.step).is_integer():
                # The same index as from datetimes, built in numpy (a tenth of the time).
                origin = np.datetime64(self.epoch.replace(tzinfo=None), "us")
                stamps = origin + np.arange(start, end) * np.timedelta64(int(self.step), "s")
                index = pd.DatetimeIndex(stamps, name="ts").tz_localize(UTC)
            else:
                index = pd.DatetimeIndex(
                    [self.epoch + timedelta(seconds=self.step * i) for i in range(start, end)],
                    name="ts",
                )
            cached = self._index = (start, index)
        offset = first - cached[0]
        return cached[1][offset : offset + stop - first]

    def _ohlcv(self, pair: str, first: int, stop: int, index: pd.DatetimeIndex) -> pd.DataFrame:
        offset, path = self._path(pair, max(0, first - 1), stop)
        first, stop = first - offset, stop - offset  # positions in the kept path
        closes = path["close"][first:stop]
        before = path["close"][first - 1] if first > 0 else closes[0]
        opens = np.concatenate([[before], closes[:-1]])
        body_top, body_bottom = np.maximum(opens, closes), np.minimum(opens, closes)
        move = np.abs(np.log(closes / opens))
        values = np.empty((len(closes), len(CANDLE_COLUMNS)))
        values[:, 0] = opens
        values[:, 1] = body_top * (1 + path["wick_up"][first:stop])
        values[:, 2] = body_bottom * (1 - path["wick_down"][first:stop])
        values[:, 3] = closes
        values[:, 4] = path["volume"][first:stop] * (1.0 + 200.0 * move)
        # One block under plain column labels: a frame built from a dict of columns spends
        # most of its 50 µs making pandas' string labels, and the live loop asks for five.
        return pd.DataFrame(values, index=index, columns=_LABELS, copy=False)

    def _path(self, pair: str, first: int, stop: int) -> tuple[int, dict[str, np.ndarray]]:
        """The pair's generated candles covering [first, stop), and the candle they start at."""
        cached = self._paths.get(pair)
        if (
            cached is not None
            and cached[0] <= first
            and cached[0] + len(cached[1]["close"]) >= stop
        ):
            return cached
        kept = self._blocks.get(pair, {})
        spanned = range(first // BLOCK, -(-stop // BLOCK))
        blocks = {i: kept[i] if i in kept else self._generated(pair, i) for i in spanned}
        self._blocks[pair] = blocks  # the others are dropped: made again if asked for
        path = {
            key: np.concatenate([b[key] for b in blocks.values()]) for key in blocks[spanned[0]]
        }
        self._paths[pair] = cached = (spanned[0] * BLOCK, path)
        return cached

    def _generated(self, pair: str, index: int) -> dict[str, np.ndarray]:
        """Block `index` of the pair's path; each block opens where the one before it closed."""
        starts = self._starts.setdefault(pair, [_start_price(pair)])
        while len(starts) <= index:  # only the first time a run reaches that far
            starts.append(float(self._block(pair, len(starts) - 1, starts[-1])["close"][-1]))
        block = self._block(pair, index, starts[index])
        if len(starts) == index + 1:
            starts.append(float(block["close"][-1]))
        return block

    def _block(self, pair: str, index: int, start_price: float) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, zlib.crc32(pair.encode()), 0, index])
        log_path = np.empty(BLOCK)
        anchor = np.log(_start_price(pair))
        level, done = np.log(start_price), 0
        while done < BLOCK:
            _, drift, vol, mean_len = _REGIMES[rng.choice(len(_REGIMES), p=_REGIME_ODDS)]
            length = min(BLOCK - done, int(rng.integers(mean_len // 2, mean_len * 2)))
            vol *= self._vol_scale
            # A gentle pull towards the starting price keeps a year of candles plausible.
            drift = drift * self._vol_scale**2 - MEAN_REVERSION * (level - anchor)
            steps = rng.normal(drift, vol, length)
            if drift == 0.0 and vol < 0.002 * self._vol_scale:
                # Ranges swing around a level, so oscillators reach their extremes.
                phase = np.arange(1, length + 1) * 2 * np.pi / rng.integers(30, 70)
                swing = 12 * vol * np.sin(phase)
                segment = level + swing + np.cumsum(steps) * 0.5
            else:
                segment = level + np.cumsum(steps)
            log_path[done : done + length] = segment
            level, done = segment[-1], done + length
        wick_scale = 0.0012 * self._vol_scale
        return {
            "close": np.exp(log_path),
            "wick_up": np.abs(rng.normal(0, wick_scale, BLOCK)),
            "wick_down": np.abs(rng.normal(0, wick_scale, BLOCK)),
            "volume": rng.lognormal(3.0, 0.4, BLOCK),
        }


def _start_price(pair: str) -> float:
    return _START_PRICES.get(pair.split("/")[0], 100.0)
