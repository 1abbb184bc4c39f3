"""Pair and timeframe from a file's name: freqtrade's ETH_BTC-5m.feather, BTC_USDT_USDT-1h-futures
.feather, or Binance's own dumps (BTCUSDT-1m-2024-01.csv)."""

from __future__ import annotations

import re
from pathlib import Path

from data.candles.errors import CandleDataError
from data.candles.timeframes import timeframe_seconds

_SUFFIXES = (".csv", ".txt", ".json", ".gz", ".feather", ".arrow", ".ipc", ".parquet", ".pq")
_TIMEFRAME = re.compile(r"^\d+[mhdw]$")
# Quote currencies to split a glued symbol (BTCUSDT) on, longest first so USDT beats USD.
_QUOTES = sorted(
    [
        "USDT",
        "USDC",
        "FDUSD",
        "BUSD",
        "TUSD",
        "DAI",
        "BTC",
        "ETH",
        "BNB",
        "EUR",
        "USD",
        "GBP",
        "TRY",
        "JPY",
        "AUD",
        "BRL",
    ],  # fmt: skip
    key=len,
    reverse=True,
)


def stem(path: Path) -> str:
    name = path.name
    while True:
        lowered = name.lower()
        suffix = next((s for s in _SUFFIXES if lowered.endswith(s)), None)
        if suffix is None:
            return name
        name = name[: -len(suffix)]


def pair_and_timeframe(path: Path) -> tuple[str | None, str | None]:
    """(pair, timeframe) as far as the name tells them; None for what it does not."""
    parts = stem(path).split("-")
    timeframe = next((p for p in parts[1:] if _TIMEFRAME.match(p)), None)
    if timeframe is not None:
        try:
            timeframe_seconds(timeframe)
        except CandleDataError:
            timeframe = None
    return _pair(parts[0]), timeframe


def _pair(symbol: str) -> str | None:
    pieces = [p for p in symbol.upper().split("_") if p]
    if len(pieces) == 2:
        return f"{pieces[0]}/{pieces[1]}"
    if len(pieces) == 3:  # freqtrade's futures: BTC_USDT_USDT is BTC/USDT:USDT
        return f"{pieces[0]}/{pieces[1]}:{pieces[2]}"
    if len(pieces) == 1 and pieces[0].isalnum():
        for quote in _QUOTES:
            base = pieces[0][: -len(quote)]
            if pieces[0].endswith(quote) and base:
                return f"{base}/{quote}"
    return None


def file_symbol(pair: str) -> str:
    """ETH/BTC -> ETH_BTC, BTC/USDT:USDT -> BTC_USDT_USDT (freqtrade's spelling)."""
    if not re.fullmatch(r"[A-Za-z0-9.]+/[A-Za-z0-9.]+(:[A-Za-z0-9.]+)?", pair):
        raise CandleDataError(f"pair {pair!r} must look like BASE/QUOTE, e.g. BTC/USDT")
    return pair.replace("/", "_").replace(":", "_")
