"""The model's reply: the one shape accepted, read into a vote or an abstention that says why.

A reply that cannot be trusted is an abstention with the raw reply kept, never a HOLD: a
failed parse that defaults to "hold" looks like a real vote for months.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.llm.prompt import PROMPT_VERSION
from agents.llm.text import clean, shorten
from data.types import Action, Vote, VoteSource

RATIONALE_MAX_CHARS = 500
RAW_REPLY_MAX_CHARS = 2000
REASON_DETAIL_MAX_CHARS = 200
PROMPT_MAX_CHARS = 2000  # each message kept with the vote, bounded like the raw reply
# What Ollama reports of a reply's cost: token counts, and durations (ns on the wire, ms kept).
TOKEN_COUNTS = ("prompt_eval_count", "eval_count")
DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


class LlmReply(BaseModel):
    """The only reply accepted; its JSON schema is sent to Ollama as `format`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["BUY", "SELL", "HOLD"]
    confidence: float = Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False)
    rationale: str = Field(min_length=1, max_length=RATIONALE_MAX_CHARS)


@dataclass(frozen=True)
class ReadReply:
    """The raw reply, and either the reply it holds or the kind of failure and why."""

    raw: str
    reply: LlmReply | None = None
    failure: str = ""  # "empty", "invalid_json" or "schema" when `reply` is None
    reason: str = ""


def read_reply(response: Any) -> ReadReply:
    """Read a chat response; never raises."""
    message = getattr(response, "message", None)
    raw = getattr(message, "content", None) or ""
    if not raw.strip():
        return ReadReply(raw, failure="empty", reason="reply was empty")
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        cut_off = getattr(response, "done_reason", None) == "length"
        cut = " (cut off at the token limit)" if cut_off else ""
        return ReadReply(
            raw, failure="invalid_json", reason=f"reply was not valid JSON{cut}: {exc}"
        )
    try:
        reply = LlmReply.model_validate(parsed)
    except ValidationError as exc:
        reason = f"reply did not match the schema: {_summarise(exc)}"
        return ReadReply(raw, failure="schema", reason=reason)
    return ReadReply(raw, reply=reply)


def exchange_record(messages: list[dict[str, str]], response: Any = None) -> dict:
    """What the vote was asked and what the reply cost, kept with it: the messages sent
    (each bounded), Ollama's token counts and its durations in ms (None when unknown, as
    for a request that got no reply)."""
    record: dict[str, Any] = {
        "prompt": [
            {"role": m["role"], "content": shorten(m["content"], PROMPT_MAX_CHARS)}
            for m in messages
        ]
    }
    for name in TOKEN_COUNTS:
        value = getattr(response, name, None)
        record[name] = int(value) if isinstance(value, int | float) else None
    for name in DURATIONS:
        value = getattr(response, name, None)
        record[f"{name}_ms"] = round(value / 1e6, 1) if isinstance(value, int | float) else None
    return record


def llm_vote(
    agent: str,
    model: str,
    reply: LlmReply,
    raw: str,
    latency_ms: float | None,
    exchange: dict | None = None,
) -> Vote:
    """`exchange`: from `exchange_record`, the prompt and the reply's cost."""
    return Vote(
        agent,
        Action(reply.action),
        reply.confidence,
        clean(reply.rationale),
        VoteSource.LLM,
        {
            "model": model,
            "prompt_version": PROMPT_VERSION,
            "latency_ms": latency_ms,
            "raw_reply": raw,
            **(exchange or {}),
        },
    )


def abstention_reason(reason: str) -> str:
    """One bounded line: the reason goes into the rationale, the status and the log."""
    return shorten(clean(reason), REASON_DETAIL_MAX_CHARS + 60)


def abstention(
    agent: str,
    model: str,
    reason: str,
    raw: str = "",
    latency_ms: float | None = None,
    exchange: dict | None = None,
) -> Vote:
    """A HOLD at confidence 0 that the consensus skips; `reason` from `abstention_reason`;
    `exchange` when a request was sent (`exchange_record`)."""
    return Vote(
        agent,
        Action.HOLD,
        0.0,
        f"LLM abstained: {reason}",
        VoteSource.ABSTAIN,
        {
            "model": model,
            "prompt_version": PROMPT_VERSION,
            "latency_ms": latency_ms,
            "raw_reply": shorten(raw, RAW_REPLY_MAX_CHARS),
            "error": reason,
            **(exchange or {}),
        },
    )


def offline_abstention(agent: str, model: str, reason: str) -> Vote:
    return Vote(
        agent,
        Action.HOLD,
        0.0,
        f"LLM offline: {reason}",
        VoteSource.ABSTAIN,
        {
            "model": model,
            "prompt_version": PROMPT_VERSION,
            "latency_ms": None,
            "raw_reply": "",
            "error": reason,
        },
    )


def _summarise(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"]) or "reply"
        problems.append(f"{where}: {item['msg']} (got {shorten(repr(item['input']), 40)})")
    return "; ".join(problems)
