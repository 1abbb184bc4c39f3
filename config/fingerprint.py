"""A config's strategy fingerprint: a short hash of exactly the settings that change what the
strategy decides and trades. Evidence from a search is filed under it, so the go-live gate
finds the evidence for the config about to trade whatever its mode, keys or dashboard."""

from __future__ import annotations

import hashlib
import json

from config.search_space import read_setting
from config.settings import Settings

# Sections (or section.field) that decide and trade. Left out on purpose: mode, feed, replay,
# exchange and keys (where orders go, not which), starting capital (sizes scale with equity),
# clock, engine, laptop, dashboard, the LLM's host, model and timeouts (a backtest replays or
# abstains the LLM's votes, so no evidence can speak for a model), the learning loop (it moves
# weights live from outcomes; evidence judges the configured weights), the auditor (it checks
# fills after the fact) and the search's own [optimize] settings.
STRATEGY_SETTINGS = (
    "market.pairs",
    "market.timeframe",
    "market.history_candles",
    "agents.weights",
    "agents.regime",
    "agents.sentiment.source",  # the proxy or the Fear & Greed index: different votes
    "consensus",
    "risk",  # its protections too
    "indicators",  # absent before [indicators] existed: then None
    "broker.fee_rate",
    "broker.slippage_rate",
    "broker.fill_at",
)


def strategy_settings(settings: Settings) -> dict:
    """The fingerprinted settings as plain JSON-ready values, by dotted name."""
    out = {}
    for path in STRATEGY_SETTINGS:
        value = read_setting(settings, path)
        out[path] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return out


def strategy_fingerprint(settings: Settings) -> str:
    """16 hex digits, the same for the same strategy settings in every process."""
    text = json.dumps(strategy_settings(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
