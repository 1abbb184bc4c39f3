"""Plain data types shared by agents, risk and the engine (no database, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"

    @property
    def direction(self) -> int:
        return {"BUY": 1, "SELL": -1, "HOLD": 0}[self.value]


class VoteSource(StrEnum):
    RULE = "rule"
    LLM = "llm"
    ABSTAIN = "abstain"


@dataclass(frozen=True)
class Vote:
    agent: str
    action: Action
    confidence: float
    rationale: str
    source: VoteSource = VoteSource.RULE
    data: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"{self.agent}: confidence {self.confidence} is outside 0..1")


@dataclass(frozen=True)
class Consensus:
    action: Action
    score: float
    threshold: float
    weights: dict[str, float]
    votes: tuple[Vote, ...]


@dataclass(frozen=True)
class OpenPosition:
    pair: str
    amount: float
    entry_price: float
    entry_fee: float
    stop_loss: float
    take_profit: float


@dataclass(frozen=True)
class PortfolioView:
    """What risk needs to know about the book at the moment of a decision."""

    equity: float
    cash: float  # VOLT's own: equity less its positions' value
    positions: dict[str, OpenPosition]
    # What an entry may spend now, when less than `cash`: on an exchange account the owner
    # also uses, quote locked in the owner's orders is not VOLT's to spend. None: `cash`.
    spendable: float | None = None

    @property
    def buying_power(self) -> float:
        return self.cash if self.spendable is None else min(self.cash, self.spendable)
