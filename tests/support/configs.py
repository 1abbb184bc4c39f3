"""Configs tests share."""

# Learning from few outcomes, quickly: weights move within a short run.
LEARN_FAST = """
[agents.weights]
technical = 1.0
regime = 0.0
sentiment = 0.2
[agents.learning]
min_samples = 2
outcome_horizon_hours = 4
"""

# The default risk settings: regime-scaled stops, every protection at its default; the
# cost gate at its least (a target of one round trip), so entries under the crash
# regime's halved target still occur on this calm synthetic market.
DEFAULT_RISK = """
[risk]
min_target_to_cost = 1.0
[agents.regime]
high_volatility_ratio = 1.3
crash_drop = 0.012
[consensus.thresholds]
normal = 0.55
high_volatility = 0.55
crash = 0.55
"""
