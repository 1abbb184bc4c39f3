"""What an exchange does its own way beside ccxt's common ground. The default is nothing of
its own: the exchange is spoken to as ccxt offers it (venues/binance/ has Binance's rules)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# One myTrades request: (since ms or None, at most this many or None, exchange params).
TradesPage = Callable[[int | None, int | None, dict], list[dict]]


@dataclass(frozen=True)
class VenueRules:
    options: Mapping[str, Any] = field(default_factory=dict)  # ccxt options beyond spot
    key_refused_codes: frozenset[str] = frozenset()  # error codes: the key itself is refused
    ip_ban_status: int | None = None  # the HTTP status of an IP ban, if the exchange bans
    # The window its request weight is counted over: calls may burst up to what ccxt's
    # rateLimit allows in it. One second unless the exchange says more (Binance: a minute).
    rate_window_seconds: float = 1.0

    def trades_since(self, fetch_page: TradesPage, since: int, now: int) -> list[dict]:
        """Every fill of the account from `since` (exchange ms) to `now`: one request."""
        return fetch_page(since, None, {})
