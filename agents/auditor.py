"""The auditor: after every fill, does it match what risk approved?

Slippage is measured against the decision's price, in the direction that costs the book;
size against the approved amount, both ways (a partial fill and an overfill both matter).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditLimits:
    max_slippage: float  # fraction of the decision price
    size_tolerance: float  # fraction of the approved amount


def audit_fill(
    side: str,
    decision_price: float,
    approved_amount: float,
    fill_price: float,
    fill_amount: float,
    limits: AuditLimits,
) -> list[str]:
    """The violations of one fill, each a sentence a trader can read; empty when clean."""
    violations = []
    if decision_price > 0:
        adverse = (fill_price - decision_price) / decision_price
        if side == "sell":
            adverse = -adverse
        if adverse > limits.max_slippage:
            violations.append(
                f"slippage {adverse:.3%} against the book: {side} filled at {fill_price:.6g}, "
                f"decided at {decision_price:.6g} (limit {limits.max_slippage:.3%})"
            )
    if approved_amount > 0:
        off = (fill_amount - approved_amount) / approved_amount
        if abs(off) > limits.size_tolerance:
            what = "partial fill" if off < 0 else "overfill"
            violations.append(
                f"{what}: {fill_amount:.8g} filled of {approved_amount:.8g} approved "
                f"({off:+.2%}, tolerance {limits.size_tolerance:.2%})"
            )
    return violations
