"""Why candles cannot be used: one line naming the file (or series), the place and the fault."""

from __future__ import annotations


class CandleDataError(ValueError):
    """Candles that cannot be read, stored or used as they are."""


class CandleGapError(CandleDataError):
    """Candles missing inside a series under the `refuse` gap policy."""
