"""Agent weights that follow recent accuracy, within a floor and a cap."""

from __future__ import annotations

from dataclasses import dataclass

from data.scorecard import AgentRecord


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
    records: dict[str, AgentRecord],
    *,
    min_samples: int,
    floor: float,
    cap: float,
) -> list[WeightChange]:
    """Scale each configured weight by (0.5 + accuracy): a coin-flip agent keeps its weight,
    a perfect one gets 1.5x, a always-wrong one 0.5x; always within [floor, cap]."""
    changes = []
    for agent, configured in base.items():
        record = records.get(agent)
        if configured <= 0 or record is None or record.samples < min_samples:
            continue
        accuracy = record.accuracy
        target = round(min(cap, max(floor, configured * (0.5 + accuracy))), 3)
        previous = current.get(agent, configured)
        if abs(target - previous) < 0.005:
            continue
        bounded = "" if floor < configured * (0.5 + accuracy) < cap else " (bounded)"
        changes.append(
            WeightChange(
                agent,
                previous,
                target,
                configured,
                accuracy,
                record.samples,
                f"accuracy {accuracy:.0%} over its last {record.samples} resolved calls: "
                f"{configured:g} x (0.5 + {accuracy:.2f}) -> {target:g}{bounded}, "
                f"within floor {floor:g} and cap {cap:g}",
            )
        )
    return changes
