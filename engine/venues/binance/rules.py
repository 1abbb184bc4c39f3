"""Binance spot's own rules for the ccxt client: its options, the error codes that refuse a
key, its IP ban, and how its account trades are read."""

from __future__ import annotations

from engine.venues.ccxt.rules import TradesPage, VenueRules

# ccxt turns -2015 after an earlier success into DDoSProtection (it can be a short ban), but
# a key revoked mid-run answers the same way.
KEY_REFUSED_CODES = frozenset({"-2015", "-2014", "-1022"})
IP_BAN_STATUS = 418
TRADES_WINDOW_MS = 24 * 3_600_000  # myTrades: at most 24 h per request
TRADES_PAGE = 1000  # and at most 1000 trades, oldest first


class BinanceRules(VenueRules):
    def trades_since(self, fetch_page: TradesPage, since: int, now: int) -> list[dict]:
        """Read window by window, and past a full page go on by trade id (fromId), which no
        crowd of same-millisecond trades defeats."""
        trades: list[dict] = []
        start = since
        while start <= now:
            end = min(start + TRADES_WINDOW_MS - 1, now)
            page = fetch_page(start, TRADES_PAGE, {"endTime": end})
            trades += page
            while len(page) == TRADES_PAGE:
                page = fetch_page(None, TRADES_PAGE, {"fromId": int(page[-1]["id"]) + 1})
                trades += page
                end = now  # fromId has read on to the present
            start = end + 1
        return trades


def binance_rules(recv_window_ms: int) -> BinanceRules:
    return BinanceRules(
        # Only /api/v3/exchangeInfo at load: no futures markets, no signed currency list
        # (/sapi/v1/capital/config/getall), and no signed margin pair lists
        # (/sapi/v1/margin/allPairs, isolated/allPairs), which ccxt asks for in live mode.
        options={
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
            "recvWindow": recv_window_ms,
        },
        key_refused_codes=KEY_REFUSED_CODES,
        ip_ban_status=IP_BAN_STATUS,
        # Binance counts request weight per minute (6000 on spot; ccxt's cost 0.2 a unit).
        rate_window_seconds=60.0,
    )
