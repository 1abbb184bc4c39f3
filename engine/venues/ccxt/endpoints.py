"""Where a ccxt client sends its REST calls: the exchange's own hosts, or `exchange.base_url`
(a proxy, a regional endpoint, or a loopback server in tests)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def point_at(api: Any, base_url: str) -> None:
    """Send every REST call of the ccxt client `api` to `base_url`, each keeping its path:
    with base_url http://127.0.0.1:8080, https://api.binance.com/api/v3 becomes
    http://127.0.0.1:8080/api/v3 and https://fapi.binance.com/fapi/v1 becomes
    http://127.0.0.1:8080/fapi/v1. The server there must answer as the exchange would."""
    api.urls["api"] = _rebased(api.urls["api"], base_url.rstrip("/"))


def _rebased(urls: str | dict, base: str) -> str | dict:
    # ccxt keeps one URL per API family, a plain string for single-host exchanges.
    if isinstance(urls, dict):
        return {name: _rebased(url, base) for name, url in urls.items()}
    path = urlsplit(urls).path.rstrip("/")
    return f"{base}{path}"
