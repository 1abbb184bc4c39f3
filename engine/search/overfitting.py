"""How much of a search's best result is the luck of trying many: the deflated Sharpe ratio
(Bailey and López de Prado, 2014).

The best of N trials' Sharpe ratios is compared with the best one would expect from N
strategies with no edge at all, given how much the trials' Sharpe ratios vary, and with the
returns' length, skew and fat tails. The result is a probability that the true Sharpe ratio
is above zero after that correction: below 0.95 the search has not shown an edge beyond the
luck of its trials, and reads as overfit. Sharpe ratios here are per candle, not annualised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329
CONFIDENCE = 0.95  # below: overfit
_NORMAL = NormalDist()


@dataclass(frozen=True)
class ReturnShape:
    """A return series' per-candle Sharpe ratio and the moments the deflation needs."""

    sharpe: float
    skew: float
    kurtosis: float  # not excess: 3 for normal returns
    candles: int

    def to_dict(self) -> dict[str, float]:
        return {
            "sharpe": self.sharpe,
            "skew": self.skew,
            "kurtosis": self.kurtosis,
            "candles": self.candles,
        }


def return_shape(returns: np.ndarray) -> ReturnShape:
    returns = np.asarray(returns, dtype=float)
    returns = returns[np.isfinite(returns)]
    if len(returns) < 3:
        return ReturnShape(0.0, 0.0, 3.0, len(returns))
    spread = returns.std(ddof=1)
    if spread == 0:
        return ReturnShape(0.0, 0.0, 3.0, len(returns))
    centred = returns - returns.mean()
    sd = centred.std()
    skew = float(np.mean(centred**3) / sd**3) if sd > 0 else 0.0
    kurtosis = float(np.mean(centred**4) / sd**4) if sd > 0 else 3.0
    return ReturnShape(float(returns.mean() / spread), skew, kurtosis, len(returns))


def expected_max_sharpe(trial_sharpes: list[float], tried: int | None = None) -> float:
    """The best Sharpe ratio `tried` trials with no edge would show (default: as many as
    `trial_sharpes`), given how much the finished trials' ratios vary."""
    n = max(tried or 0, len(trial_sharpes))
    if n < 2 or len(trial_sharpes) < 2:
        return 0.0
    spread = float(np.std(trial_sharpes, ddof=1))
    return spread * (
        (1 - EULER_GAMMA) * _NORMAL.inv_cdf(1 - 1 / n)
        + EULER_GAMMA * _NORMAL.inv_cdf(1 - 1 / (n * math.e))
    )


def deflated_sharpe(
    best: ReturnShape, trial_sharpes: list[float], tried: int | None = None
) -> float:
    """The probability that the best trial's true Sharpe ratio beats the luck of N trials."""
    if best.candles < 3:
        return math.nan
    benchmark = expected_max_sharpe(trial_sharpes, tried)
    sr = best.sharpe
    variance = 1 - best.skew * sr + (best.kurtosis - 1) / 4 * sr**2
    if variance <= 0:
        return math.nan
    z = (sr - benchmark) * math.sqrt(best.candles - 1) / math.sqrt(variance)
    return _NORMAL.cdf(z)


@dataclass(frozen=True)
class Overfitting:
    name: str
    value: float  # NaN: too little to judge
    trials: int
    benchmark: float  # the best Sharpe ratio per candle expected from luck alone
    overfit: bool

    def sentence(self) -> str:
        if self.value != self.value:
            return f"{self.name}: not enough returns to judge"
        verdict = (
            "OVERFIT: the best trial does not beat the luck of its trials"
            if self.overfit
            else "the best trial's edge survives the number of trials tried"
        )
        return (
            f"{self.name} {self.value:.3f} over {self.trials} trials (needs {CONFIDENCE}): "
            f"{verdict}"
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "value": self.value if self.value == self.value else None,  # JSON has no NaN
            "trials": self.trials,
            "benchmark": self.benchmark,
            "overfit": self.overfit,
        }


def judge(best: ReturnShape, trial_sharpes: list[float], tried: int | None = None) -> Overfitting:
    """`tried`: every trial the search tried, pruned ones too (default: the finished ones)."""
    value = deflated_sharpe(best, trial_sharpes, tried)
    overfit = not value >= CONFIDENCE  # NaN counts as not shown
    trials = max(tried or 0, len(trial_sharpes))
    return Overfitting(
        "deflated Sharpe ratio", value, trials, expected_max_sharpe(trial_sharpes, tried), overfit
    )
