"""What the strategy search (`python -m engine optimize`) may tune: every dimension declared
once, by its dotted setting and its range; its default is the config's own value. A config
narrows, widens or fixes a dimension in `[optimize.space]`, in the same shape:

    [optimize.space]
    "risk.stop_atr_multiple" = { low = 1.0, high = 4.0, step = 0.5 }
    "agents.weights.sentiment" = false   # keep the configured value
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from config.section import Section


@dataclass(frozen=True)
class Dimension:
    path: str  # the dotted setting: "risk.stop_atr_multiple", "agents.weights.technical"
    low: float
    high: float
    step: float | None = None  # None: continuous
    integer: bool = False

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


SEARCH_SPACE: tuple[Dimension, ...] = (
    Dimension("consensus.thresholds.normal", 0.10, 0.90, 0.05),
    Dimension("consensus.thresholds.high_volatility", 0.10, 0.95, 0.05),
    Dimension("consensus.thresholds.crash", 0.10, 1.00, 0.05),
    Dimension("agents.weights.technical", 0.0, 2.0, 0.1),
    Dimension("agents.weights.regime", 0.0, 2.0, 0.1),
    Dimension("agents.weights.sentiment", 0.0, 2.0, 0.1),
    Dimension("risk.stop_atr_multiple", 0.5, 6.0, 0.25),
    Dimension("risk.take_profit_atr_multiple", 0.5, 12.0, 0.25),
    Dimension("risk.trailing_stop_atr_multiple", 0.0, 6.0, 0.25),  # 0: no trailing stop
    Dimension("risk.risk_per_trade", 0.0025, 0.03, 0.0025),
    Dimension("indicators.rsi_period", 5, 30, 1, integer=True),
    Dimension("indicators.bollinger_period", 10, 50, 5, integer=True),
    Dimension("indicators.trend_fast_span", 10, 90, 10, integer=True),
    Dimension("indicators.trend_slow_span", 100, 250, 10, integer=True),
    Dimension("indicators.momentum_window", 3, 48, 3, integer=True),
)
KNOWN = {d.path: d for d in SEARCH_SPACE}
# What a trial may maximise, and how pages and printouts name it.
OBJECTIVE_LABELS = {
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "return_over_drawdown": "return over max drawdown",
    "expectancy": "expectancy (mean P&L a trade)",
}
OBJECTIVES = tuple(OBJECTIVE_LABELS)


class Bounds(Section):
    low: float
    high: float
    step: float | None = Field(default=None, gt=0)


class Optimize(Section):
    """`[optimize]`: the search's defaults; each is also a flag of `python -m engine optimize`."""

    objective: Literal["sharpe", "sortino", "return_over_drawdown", "expectancy"] = "sharpe"
    trials: int = Field(default=100, ge=1, le=1_000_000)
    folds: int = Field(default=3, ge=1, le=20)  # in-sample folds the objective averages
    holdout: float = Field(default=0.25, gt=0, lt=0.9)  # the last share of the span, never seen
    # Fewer trades in sample and a trial scores worst: a handful of lucky trades is no result.
    min_trades: int = Field(default=10, ge=0, le=100_000)
    space: dict[str, Bounds | bool] = Field(default_factory=dict)

    @field_validator("space")
    @classmethod
    def _known_dimensions(cls, space: dict[str, Bounds | bool]) -> dict[str, Bounds | bool]:
        for path, bounds in space.items():
            if path not in KNOWN:
                raise ValueError(f"{path!r} is not a searchable setting; one of {', '.join(KNOWN)}")
            if bounds is True:
                continue
            if isinstance(bounds, Bounds) and not bounds.low <= bounds.high:
                raise ValueError(f"{path}: low {bounds.low:g} is above high {bounds.high:g}")
        return space


class SearchSpaceError(ValueError):
    """A dimension cannot be searched with these settings; the message names it."""


def read_setting(settings, path: str):
    """The value at a dotted path of a Settings (dict keys included)."""
    value = settings
    for part in path.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def search_space(settings) -> tuple[Dimension, ...]:
    """The dimensions this config searches: the declared ones, changed by `[optimize.space]`,
    without those it fixes, and the slow trend span kept inside the candles a decision reads."""
    out = []
    overrides = settings.optimize.space
    for dimension in SEARCH_SPACE:
        override = overrides.get(dimension.path, True)
        if override is False:
            continue
        if isinstance(override, Bounds):
            dimension = replace(dimension, low=override.low, high=override.high, step=override.step)
        if dimension.path == "agents.weights.sentiment" and (
            settings.agents.sentiment.source != "proxy"
        ):
            continue  # the live fear-and-greed index has no history to search over
        if dimension.path == "indicators.trend_slow_span":
            high = min(dimension.high, settings.market.history_candles)
            if high < dimension.low:
                raise SearchSpaceError(
                    f"optimize.space: indicators.trend_slow_span from {dimension.low:g} needs "
                    f"market.history_candles of at least that (it is "
                    f"{settings.market.history_candles})"
                )
            dimension = replace(dimension, high=high)
        out.append(dimension)
    return tuple(out)


def apply_params(settings, params: dict[str, float]):
    """A new Settings with each dotted setting of `params` set, validated like a config file
    (a combination the settings refuse raises pydantic's ValidationError)."""
    data = settings.model_dump()
    for path, value in params.items():
        parts = path.split(".")
        node = data
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = int(value) if KNOWN.get(path, Dimension("", 0, 0)).integer else value
    return type(settings).model_validate(data)


def changed_sections(settings, params: dict[str, float]) -> dict:
    """The TOML tables a config file needs for these parameters: each whole table they touch
    (a partial table of weights or thresholds would replace the whole mapping)."""
    tuned = apply_params(settings, params)
    out: dict = {}
    for path in params:
        section, _, rest = path.partition(".")
        sub, _, _ = rest.partition(".")
        value = read_setting(tuned, f"{section}.{sub}")
        if isinstance(value, BaseModel):
            value = value.model_dump()
        out.setdefault(section, {})[sub] = value
    return out


def rounded(value: float) -> float:
    """A stepped value without binary fractions' noise (0.30000000000000004)."""
    return float(f"{value:.10g}") if math.isfinite(value) else value
