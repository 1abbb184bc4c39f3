"""`python -m engine import FILE...`: candle files into the local store, a line per file."""

from __future__ import annotations

import argparse
import sys

from data.candles.errors import CandleDataError
from data.candles.gaps import GAP_POLICIES
from data.candles.importer import import_file
from data.candles.store import CandleStore

LISTED_GAPS = 20  # a 1m series can have hundreds: the first ones say enough


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="FILE",
        help="CSV (timestamp or date, or no header), freqtrade Feather or JSON, ccxt JSON, Parquet",
    )  # fmt: skip
    parser.add_argument("--exchange", help="store under this exchange (default: the config's)")
    parser.add_argument("--pair", help="e.g. BTC/USDT (default: from the file's name)")
    parser.add_argument(
        "--timeframe", help="e.g. 5m (default: from the name, else the candles' spacing)"
    )
    parser.add_argument(
        "--gaps",
        choices=GAP_POLICIES,
        default="split",
        help="missing candles: refuse the file, fill them flat at the previous close with "
        "zero volume, or split (store the real candles; readers get gap-free segments). "
        "Default split",
    )
    parser.add_argument("--resample", metavar="TF", help="store as this higher timeframe, e.g. 1h")
    parser.add_argument(
        "--list-gaps", action="store_true", help=f"print the first {LISTED_GAPS} gaps found"
    )
    parser.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")


def run_import(args: argparse.Namespace, exchange: str, store: CandleStore | None = None) -> int:
    """0 when every file went in; 2 when any was refused (its line says why)."""
    store = store or CandleStore.default()
    refused = 0
    for path in args.files:
        try:
            result = import_file(
                path, store, args.exchange or exchange, args.pair, args.timeframe, args.gaps,
                args.resample,
            )  # fmt: skip
        except CandleDataError as exc:
            refused += 1
            print(f"volt: not imported: {exc}", file=sys.stderr)
            continue
        print(f"volt: {result.line()}")
        if args.list_gaps:
            for gap in result.gaps[:LISTED_GAPS]:
                print(f"  gap: {gap}")
            if len(result.gaps) > LISTED_GAPS:
                print(f"  ... and {len(result.gaps) - LISTED_GAPS:,} more gaps")
    return 2 if refused else 0
