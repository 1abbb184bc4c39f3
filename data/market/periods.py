"""The indicator lengths the team reads, as one value the strategy search can vary.

MACD (12, 26, 9), ATR (14) and the sentiment baselines stay fixed: only these are
configurable (config [indicators]). The defaults are the lengths VOLT has always used, so
`DEFAULT_PERIODS` gives the same values to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral


class PeriodsError(ValueError):
    """An indicator length no indicator can be computed with."""


@dataclass(frozen=True)
class IndicatorPeriods:
    rsi: int = 14  # Wilder's RSI
    bollinger: int = 20  # Bollinger bands' rolling mean and deviation
    trend_fast: int = 50  # the regime's fast EMA span
    trend_slow: int = 200  # the regime's slow EMA span
    momentum: int = 12  # the sentiment proxy's momentum lag, in candles

    def __post_init__(self) -> None:
        # A search or a test building these directly gets the same refusals as the config.
        for name, least in (("rsi", 2), ("bollinger", 2), ("trend_fast", 2), ("momentum", 1)):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < least:
                raise PeriodsError(f"indicator period {name} = {value!r}: needs an int >= {least}")
        if not isinstance(self.trend_slow, Integral) or self.trend_fast >= self.trend_slow:
            raise PeriodsError(
                f"indicator periods: trend_fast {self.trend_fast!r} must be below "
                f"trend_slow {self.trend_slow!r}"
            )


DEFAULT_PERIODS = IndicatorPeriods()
