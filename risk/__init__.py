"""Risk: every order passes through the gate; only the gate can make an order a broker accepts."""

from risk.gate import ApprovedOrder, OrderIntent, RiskGate, RiskLimits, RiskRejection
from risk.protections import Block, ClosedTrade, RiskContext

__all__ = [
    "ApprovedOrder",
    "Block",
    "ClosedTrade",
    "OrderIntent",
    "RiskContext",
    "RiskGate",
    "RiskLimits",
    "RiskRejection",
]
