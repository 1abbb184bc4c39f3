"""Agent weights that follow recent accuracy, within a floor and a cap."""

from __future__ import annotations

from dataclasses import dataclass

from data.stats.scorecard import CallRecord


@dataclass(frozen=True)
class WeightChange:
    agent: str
    previous: float
    weight: float
    base: float
    accuracy: float | None
    samples: int
    reason: str


def adapt_weights(
    base: dict[str, float],
    current: dict[str, float],
    records: dict[str, CallRecord],
    *,
    min_samples: int,
    floor: float,
    cap: float,
    breakeven: float = 0.5,
) -> list[WeightChange]:
    """Scale each configured weight by (1 + accuracy - breakeven): an agent right exactly as
    often as the stops need to break even keeps its weight; each point of accuracy above
    or below moves it a point; always within [floor, cap]. Break-even counts the round
    trip's costs (risk.costs.breakeven_accuracy): with the default stops (2 ATR, take
    profit 3 ATR) it is 40 % without costs and 60 % with them, at the dearest entry the
    gate admits (a cost of a third of the target); not a coin flip either way. An
    outcome is itself judged after costs (engine.trading.journal)."""
    changes = []
    for agent, configured in base.items():
        record = records.get(agent)
        if configured <= 0 or record is None or record.samples < min_samples:
            continue
        accuracy = record.accuracy
        factor = 1 + accuracy - breakeven
        target = round(min(cap, max(floor, configured * factor)), 3)
        previous = current.get(agent, configured)
        if abs(target - previous) < 0.005:
            continue
        bounded = "" if floor < configured * factor < cap else " (bounded)"
        changes.append(
            WeightChange(
                agent,
                previous,
                target,
                configured,
                accuracy,
                record.samples,
                f"accuracy {accuracy:.0%} over its last {record.samples} resolved calls "
                f"(break-even {breakeven:.0%}): {configured:g} x (1 + {accuracy:.2f} - "
                f"{breakeven:.2f}) -> {target:g}{bounded}, within floor {floor:g} and cap {cap:g}",
            )
        )
    return changes
