"""The feed seam: what every feed of closed candles (synthetic, ccxt) offers the engine."""

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
