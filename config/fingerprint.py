"""A config's strategy fingerprint: a short hash of exactly the settings that change what the
strategy decides and trades. Evidence from a search is filed under it, so the go-live gate
finds the evidence for the config about to trade whatever its mode, keys or dashboard."""

from __future__ import annotations

import hashlib
import json

# Sections (or section.field) that decide and trade; mode, exchange, keys, capital, clock,
# engine, laptop, dashboard, the LLM's host and the search's own settings do not.
STRATEGY_SETTINGS = (
    "market.pairs",
    "market.timeframe",
    "market.history_candles",
    "agents.weights",
    "agents.regime",
    "agents.sentiment.source",
    "consensus",
    "risk",  # its protections too
    "indicators",
    "broker.fee_rate",
    "broker.slippage_rate",
    "broker.fill_at",
)


def strategy_settings(settings) -> dict:
    out = {}
    for path in STRATEGY_SETTINGS:
        value = settings
        for part in path.split("."):
            value = getattr(value, part, None)
        out[path] = value.model_dump() if hasattr(value, "model_dump") else value
    return out


def strategy_fingerprint(settings) -> str:
    """16 hex digits, the same for the same strategy settings in every process."""
    text = json.dumps(strategy_settings(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
