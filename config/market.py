"""`[market]`: the pairs and the candle length the engine trades, checked against what the
exchange offers and what the store's columns hold."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from config.section import Section as _Section

_TIMEFRAME_UNITS = {"m": 60, "h": 3600, "d": 86400}
# The candle lengths exchanges offer (ccxt's Binance set) that a fixed number of seconds
# describes: 1w and 1M are left out, a month has no fixed length.
EXCHANGE_TIMEFRAMES = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
)
# The store's pair columns are String(32) (data/store/models.py); a test keeps the two equal.
PAIR_MAX_LENGTH = 32
_PAIR_SHAPE = re.compile(r"[A-Z0-9]+/[A-Z0-9]+")


def timeframe_seconds(timeframe: str) -> int:
    unit = timeframe[-1:]
    if unit not in _TIMEFRAME_UNITS or not timeframe[:-1].isdigit() or int(timeframe[:-1]) < 1:
        raise ValueError(f"timeframe {timeframe!r} must look like 1m, 5m, 1h or 1d")
    return int(timeframe[:-1]) * _TIMEFRAME_UNITS[unit]


class Market(_Section):
    pairs: list[str] = Field(default=["BTC/USDT", "ETH/USDT", "SOL/USDT"], min_length=1)
    timeframe: str = "5m"
    history_candles: int = Field(default=300, ge=60, le=5000)

    @field_validator("pairs", mode="before")
    @classmethod
    def _pairs_trimmed(cls, pairs: object) -> object:
        if isinstance(pairs, list):
            return [pair.strip() if isinstance(pair, str) else pair for pair in pairs]
        return pairs

    @field_validator("pairs")
    @classmethod
    def _pairs_are_base_quote(cls, pairs: list[str]) -> list[str]:
        for pair in pairs:
            if len(pair) > PAIR_MAX_LENGTH:
                raise ValueError(
                    f"pair {pair[:PAIR_MAX_LENGTH]!r}... is {len(pair)} characters long; "
                    f"the store holds at most {PAIR_MAX_LENGTH}"
                )
            if not _PAIR_SHAPE.fullmatch(pair):
                raise ValueError(
                    f"pair {pair!r} must look like BASE/QUOTE in capitals, e.g. BTC/USDT"
                )
        if len(set(pairs)) != len(pairs):
            raise ValueError("pairs must not repeat")
        return pairs

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, timeframe: str) -> str:
        timeframe_seconds(timeframe)
        if timeframe not in EXCHANGE_TIMEFRAMES:
            raise ValueError(
                f"timeframe {timeframe!r} is not one the exchange offers; use one of "
                f"{', '.join(EXCHANGE_TIMEFRAMES)}"
            )
        return timeframe
