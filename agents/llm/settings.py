"""Where the LLM agent finds Ollama, which model it asks, how, and its time budget."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LlmSettings:
    host: str = "http://127.0.0.1:11434"
    model: str = "llama3.2:3b"
    timeout_seconds: float = 20.0  # the hard budget of one vote, probe included
    num_ctx: int = 4096
    retry_offline_seconds: float = 300.0  # how often an offline server is probed again
    # One budget for a tick's votes, every pair asked at once (capped by timeout_seconds).
    tick_budget_seconds: float = 15.0
    keep_alive: str | None = "30m"  # Ollama keeps the model loaded this long between ticks
    think: bool | str | None = False  # False: a thinking model answers without thinking
    degraded_abstain_rate: float = 0.5  # of the last `status_window` votes: "degraded"
    status_window: int = 20

    @property
    def vote_budget_seconds(self) -> float:
        """How long a tick waits for its votes."""
        return min(self.timeout_seconds, self.tick_budget_seconds)

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("llm.model is empty: name an Ollama model, e.g. llama3.2")
        if not self.timeout_seconds > 0:
            raise ValueError(f"llm.timeout_seconds must be above 0, got {self.timeout_seconds}")
        if not self.tick_budget_seconds > 0:
            raise ValueError(
                f"llm.tick_budget_seconds must be above 0, got {self.tick_budget_seconds}"
            )
        if not 0 < self.degraded_abstain_rate <= 1:
            raise ValueError(
                "llm.degraded_abstain_rate must be above 0 and at most 1, "
                f"got {self.degraded_abstain_rate}"
            )
        if self.status_window < 1:
            raise ValueError(f"llm.status_window must be at least 1, got {self.status_window}")
        if self.num_ctx < 256:
            raise ValueError(f"llm.num_ctx must be at least 256 tokens, got {self.num_ctx}")
        if self.retry_offline_seconds < 0:
            raise ValueError(
                f"llm.retry_offline_seconds must be 0 or more, got {self.retry_offline_seconds}"
            )
