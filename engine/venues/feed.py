"""The feed seam: what every feed of closed candles (synthetic, replay, ccxt) offers the engine."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import pandas as pd

CANDLE_COLUMNS = ["open", "high", "low", "close", "volume"]


class Feed(Protocol):
    name: str
    simulated: bool

    def candles(self, pair: str, until: datetime, limit: int) -> pd.DataFrame:
        """The last `limit` candles closed at `until`, indexed by open time (UTC)."""
        ...

    def opening_price(self, pair: str, now: datetime) -> float | None:
        """The market's price at `now` for an order sent then: the open of the candle
        forming at `now` (its first price, known without seeing the rest of it), or the
        last traded price on a live market. None when the feed has no such candle (a
        replay past its end or in a gap)."""
        ...
