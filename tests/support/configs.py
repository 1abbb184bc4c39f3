"""Configs tests share."""

# Learning from few outcomes, quickly: weights move within a short run.
LEARN_FAST = """
[agents.weights]
technical = 1.0
sentiment = 0.2
[agents.learning]
min_samples = 2
outcome_horizon_hours = 4
"""
