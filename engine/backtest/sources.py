"""What `--data` names: candle files of any format `python -m engine import` reads, or stored
series (binance:ETH/BTC:5m), one per pair; the pairs come from --pairs, else from the names."""

from __future__ import annotations

from pathlib import Path

from data.candles import CandleDataError
from data.candles.names import pair_and_timeframe
from data.candles.store import SeriesKey

Source = str | Path | SeriesKey


def parse_source(text: str) -> Source:
    """A stored series when the text is no file and looks like EXCHANGE:PAIR:TF or PAIR:TF."""
    if Path(text).exists() or ":" not in text:
        return text
    return SeriesKey.parse(text)


def source_pairs(sources: list[Source], pairs: list[str] | None) -> list[str]:
    """The pair of each source, in order: --pairs when given, else what each name tells."""
    if pairs:
        return list(pairs)
    found = []
    for source in sources:
        if not isinstance(source, SeriesKey) and not Path(source).is_file():
            raise CandleDataError(f"{source}: no such file")
        pair = source.pair if isinstance(source, SeriesKey) else pair_and_timeframe(Path(source))[0]
        if pair is None:
            raise CandleDataError(
                f"{source}: its name does not say which pair it holds; give --pairs "
                "(one per --data, in the same order)"
            )
        found.append(pair)
    if len(set(found)) != len(found):
        raise CandleDataError(f"two --data sources hold the same pair ({', '.join(found)})")
    return found
