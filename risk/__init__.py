"""Risk: every order passes through the gate; only the gate can make an order a broker accepts."""

from risk.gate import ApprovedOrder, OrderIntent, RiskGate, RiskLimits, RiskRejection

__all__ = ["ApprovedOrder", "OrderIntent", "RiskGate", "RiskLimits", "RiskRejection"]
