"""LLM agent: one vote from a local Ollama model, or an abstention that says why.

prompt: what the model is told. reply: the reply's schema, read into a vote or an abstention.
connection and bounded: Ollama within one budget per tick, every pair asked at once (one
request per pair at a time), offline probing. status: the health the dashboard shows.
agent: the votes, from those parts.
"""

from agents.base import MarketBrief
from agents.llm.agent import LlmAgent
from agents.llm.bounded import BUSY
from agents.llm.prompt import (
    PROMPT_VERSION,
    RECENT_OUTCOMES_SHOWN,
    SYSTEM_PROMPT,
    chat_messages,
    render_brief,
)
from agents.llm.reply import (
    RATIONALE_MAX_CHARS,
    RAW_REPLY_MAX_CHARS,
    REASON_DETAIL_MAX_CHARS,
    LlmReply,
)
from agents.llm.settings import LlmSettings
from agents.llm.status import LATENCY_WINDOW, LlmStatus

__all__ = [
    "BUSY",
    "LATENCY_WINDOW",
    "PROMPT_VERSION",
    "RATIONALE_MAX_CHARS",
    "RAW_REPLY_MAX_CHARS",
    "REASON_DETAIL_MAX_CHARS",
    "RECENT_OUTCOMES_SHOWN",
    "SYSTEM_PROMPT",
    "LlmAgent",
    "LlmReply",
    "LlmSettings",
    "LlmStatus",
    "MarketBrief",
    "chat_messages",
    "render_brief",
]
