"""`python -m engine download`: public candles into the candle store, one line per pair."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from config import ConfigError, Settings, timeframe_seconds

if TYPE_CHECKING:  # ccxt takes a second to import: only a download pays for it
    from engine.venues.ccxt.exchange import ExchangeClient
    from engine.venues.ccxt.rules import VenueRules

DEFAULT_DAYS = 30.0


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if days <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return days


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="config file (default: $VOLT_CONFIG or the default)")
    parser.add_argument(
        "--pairs", nargs="+", metavar="PAIR", help="e.g. BTC/USDT ETH/USDT (default: market.pairs)"
    )
    parser.add_argument("--timeframe", help="e.g. 1m, 5m, 1h (default: market.timeframe)")
    span = parser.add_mutually_exclusive_group()
    span.add_argument(
        "--days", type=_days, help=f"the last N days (default {DEFAULT_DAYS:g} on a first run)"
    )
    span.add_argument("--since", type=_since, help="from this UTC date: YYYY-MM-DD[THH:MM]")
    parser.add_argument("--exchange", help="a ccxt exchange id (default: exchange.id)")


def public_settings(settings: Settings, exchange_id: str | None) -> Settings:
    """The configured exchange (or `exchange_id`) as a public, keyless client: production
    endpoints whatever the mode, exchange.base_url only for the exchange it was set for."""
    import ccxt

    exchange = settings.exchange
    if exchange_id and exchange_id != exchange.id:
        if exchange_id not in ccxt.exchanges:
            raise ConfigError(f"--exchange {exchange_id}: not an exchange ccxt knows, e.g. binance")
        exchange = exchange.model_copy(update={"id": exchange_id, "base_url": ""})
    return settings.model_copy(
        update={
            "mode": "paper",
            "broker": settings.broker.model_copy(update={"kind": "paper"}),
            "exchange": exchange,
        }
    )


def run_command(
    args: argparse.Namespace,
    settings: Settings,
    venue_rules: Callable[[Settings], VenueRules],
) -> int:
    from data.candles.store import CandleStore
    from engine.venues.ccxt.download import CandleDownload, DownloadError, check_request
    from engine.venues.ccxt.exchange import make_exchange

    pairs = args.pairs or list(settings.market.pairs)
    timeframe = args.timeframe or settings.market.timeframe
    now = datetime.now(UTC)
    since = args.since or now - timedelta(days=args.days or DEFAULT_DAYS)
    try:
        timeframe_seconds(timeframe)
    except ValueError as exc:
        print(f"volt: download: --timeframe: {exc}", file=sys.stderr)
        return 2
    try:
        public = public_settings(settings, args.exchange)
        client: ExchangeClient = make_exchange(public, None, venue_rules(public))
    except ConfigError as exc:
        print(f"volt: download: {exc}", file=sys.stderr)
        return 2
    store = CandleStore.default()
    download = CandleDownload(client, store, timeframe)
    done = 0
    try:
        check_request(client, pairs, timeframe)
        for pair in pairs:
            result = download.pair(pair, since, now)
            done += 1
            span = (
                f"{result.first:%Y-%m-%d %H:%M} to {result.last:%Y-%m-%d %H:%M} UTC"
                if result.last
                else "nothing stored"
            )
            print(
                f"volt: {pair} {timeframe} from {client.id}: {result.added} new candles in "
                f"{_count(result.requests, 'request')}; stored {span}"
            )
    except DownloadError as exc:
        print(f"volt: download: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"volt: download interrupted after {done} of {len(pairs)} pairs; what arrived is "
            "stored: run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    print(f"volt: candles in {store.path(client.id, pairs[0], timeframe).parent}")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
