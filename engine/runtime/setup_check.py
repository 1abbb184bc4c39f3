"""What a supervisor was started (and, live, confirmed) for, handed to its workers: a worker
whose config file now says something else refuses to run instead of trading it unconfirmed.
Live, the strategy is pinned too: the go-live gate judged that strategy's evidence."""

from __future__ import annotations

import hashlib
import json

from config import ConfigError, Settings
from config.fingerprint import strategy_fingerprint


def trading_setup(settings: Settings) -> str:
    """The mode and a hash of everything that decides where orders go (and, live, of the
    strategy whose evidence the confirmation accepted)."""
    venue = {
        "mode": settings.mode,
        "feed": settings.feed.kind,
        "broker": settings.broker.kind,
        "exchange": settings.exchange.model_dump(mode="json"),
    }
    if settings.mode == "live":
        venue["strategy"] = strategy_fingerprint(settings)
    digest = hashlib.sha256(json.dumps(venue, sort_keys=True).encode()).hexdigest()
    return f"{settings.mode}:{digest[:12]}"


def check_supervised_setup(settings: Settings, confirmed: str) -> None:
    if trading_setup(settings) == confirmed:
        return
    raise ConfigError(
        f"the config file changed since the supervisor started: it was started for "
        f"{confirmed.split(':')[0]} mode, the file now says {settings.mode} mode or another "
        "exchange setting (live: or another strategy setting); this worker does not run. "
        "Restart VOLT to use the new config"
    )


def team_lines(settings: Settings) -> list[str]:
    """The agents that vote, as the config file (defaults filled in) makes them: a weight of
    0 is off. Learning moves the weights later, within agents.learning's floor and cap."""
    return [
        f"{name} weight {weight:g} {'on' if weight > 0 else 'OFF'}"
        for name, weight in settings.agents.weights.items()
    ]
