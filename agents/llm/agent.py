"""The LLM agent: one vote per pair from a local Ollama model, or an abstention that says
why; a tick's pairs are asked at once, within one budget.

A late, garbled or off-schema reply, or an HTTP error, abstains with the raw reply kept; an
offline server abstains at once until its next probe. `vote_all` never raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import ollama

from agents.base import MarketBrief
from agents.llm.bounded import BUSY, Attempt, Waiting
from agents.llm.connection import OllamaConnection, is_model_missing, without_credentials
from agents.llm.prompt import chat_messages
from agents.llm.reply import (
    REASON_DETAIL_MAX_CHARS,
    abstention,
    abstention_reason,
    exchange_record,
    llm_vote,
    offline_abstention,
    read_reply,
)
from agents.llm.settings import LlmSettings
from agents.llm.status import LlmHealth, LlmStatus
from agents.llm.text import shorten
from data.types import Vote

log = logging.getLogger("volt.llm")
STOPPED = "the engine is stopping; the reply is not awaited"


class LlmAgent:
    name = "llm"

    def __init__(
        self,
        settings: LlmSettings,
        client: Any = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        utc_now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._health = LlmHealth(
            settings.model,
            without_credentials(settings.host),
            utc_now,
            settings.degraded_abstain_rate,
            settings.status_window,
        )
        self._ollama = OllamaConnection(settings, client, self._health, monotonic)

    def vote(self, brief: MarketBrief) -> Vote:
        """A vote within the budget (`vote_all` for one pair); never raises."""
        return self.vote_all([brief])[0]

    def vote_all(
        self,
        briefs: Sequence[MarketBrief],
        *,
        stop: threading.Event | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[Vote]:
        """One vote per brief, every pair asked at once, all within one budget
        (`vote_budget_seconds`): a reply not back by then abstains as late for this candle.
        `stop` set ends the wait at once (the votes left abstain); `meanwhile` runs every
        few tenths of a second while waiting. Never raises."""
        waiting = Waiting(time.perf_counter() + self.settings.vote_budget_seconds, stop, meanwhile)
        for _ in briefs:
            self._health.count_call()
        try:
            return self._vote_all(list(briefs), waiting)
        except Exception as exc:  # the promise is a vote, whatever went wrong
            log.exception("LLM agent failed unexpectedly", extra={"kind": "llm"})
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
            return [self._abstain("unexpected", reason, pair=b.pair) for b in briefs]

    def probe(self) -> bool:
        """Ask /api/tags whether Ollama answers and has the model; True when online."""
        try:
            attempt = self._ollama.probe(
                Waiting(time.perf_counter() + self.settings.vote_budget_seconds)
            )
            if attempt.busy:
                log.info("LLM probe skipped: %s", BUSY)
        except Exception:
            log.exception("LLM probe failed unexpectedly", extra={"kind": "llm"})
        return self._health.reachable is True

    def status(self) -> LlmStatus:
        return self._health.snapshot()

    @property
    def request_running(self) -> bool:
        """A request (perhaps a late one) still holds the worker thread."""
        return self._ollama.request_running

    def close(self) -> None:
        self._ollama.close()

    def _vote_all(self, briefs: list[MarketBrief], waiting: Waiting) -> list[Vote]:
        if self._ollama.probe_due():
            attempt = self._ollama.probe(waiting)
            if attempt.busy:
                return [self._abstain("busy", BUSY, pair=b.pair) for b in briefs]
            if attempt.stopped:
                return [self._abstain("stopped", STOPPED, pair=b.pair) for b in briefs]
        if self._health.reachable is not True:
            return [self._offline_vote(brief.pair) for brief in briefs]

        asked = []
        for brief in briefs:
            messages = chat_messages(brief)
            log.debug("LLM prompt for %s: %s", brief.pair, messages[1]["content"])
            asked.append((brief.pair, messages, self._ollama.start_chat(brief.pair, messages)))
        waiting.wait([future for _, _, future in asked if future is not None])
        return [
            self._answer(pair, messages, waiting.attempt(future))
            for pair, messages, future in asked
        ]

    def _answer(self, pair: str, messages: list[dict[str, str]], attempt: Attempt) -> Vote:
        if attempt.busy:
            return self._abstain("busy", BUSY, pair=pair)
        sent = exchange_record(messages)  # kept with the vote from here on, reply or not
        if attempt.stopped:
            return self._abstain("stopped", STOPPED, pair=pair, sent=sent)
        if attempt.late:
            return self._abstain("late", self._ollama.late_reason(), pair=pair, sent=sent)
        if attempt.error is not None:
            return self._chat_failed(attempt.error, pair, sent)
        return self._read_reply(attempt.value, attempt.latency_ms, pair, messages)

    def _chat_failed(self, error: BaseException, pair: str, sent: dict) -> Vote:
        if isinstance(error, ConnectionError):
            self._ollama.go_offline(self._ollama.unreachable(), str(error))
            return self._offline_vote(pair)
        if isinstance(error, ollama.ResponseError):
            if is_model_missing(error):
                self._ollama.go_offline(self._ollama.not_pulled(), f"/api/chat: {error.error}")
                return self._offline_vote(pair)
            detail = shorten(str(error.error), REASON_DETAIL_MAX_CHARS)
            reason = f"Ollama returned HTTP {error.status_code}: {detail}"
            return self._abstain("http", reason, pair=pair, sent=sent)
        if isinstance(error, httpx.TimeoutException):
            return self._abstain("late", self._ollama.late_reason(), pair=pair, sent=sent)
        if isinstance(error, httpx.HTTPError):
            reason = f"connection to Ollama failed: {type(error).__name__}: {error}"
            return self._abstain("transport", reason, pair=pair, sent=sent)
        if isinstance(error, ValueError):  # a 200 whose body is not a chat response
            detail = shorten(str(error), REASON_DETAIL_MAX_CHARS)
            reason = f"Ollama's response was garbled: {detail}"
            return self._abstain("garbled", reason, pair=pair, sent=sent)
        reason = f"unexpected error: {type(error).__name__}: {error}"
        return self._abstain("unexpected", reason, pair=pair, sent=sent)

    def _read_reply(
        self, response: Any, latency_ms: float | None, pair: str, messages: list[dict[str, str]]
    ) -> Vote:
        if latency_ms is not None:
            self._health.count_latency(latency_ms)
        read = read_reply(response)
        exchange = exchange_record(messages, response)
        if read.reply is None:
            return self._abstain(read.failure, read.reason, read.raw, latency_ms, pair, exchange)
        self._health.count_vote()
        model = self.settings.model
        return llm_vote(self.name, model, read.reply, read.raw, latency_ms, exchange)

    def _offline_vote(self, pair: str) -> Vote:
        reason = self._health.offline_reason or self._ollama.unreachable()
        self._health.count_offline_abstention(reason)
        log.info("LLM abstained on %s: offline: %s", pair, reason)
        return offline_abstention(self.name, self.settings.model, reason)

    def _abstain(
        self,
        kind: str,
        reason: str,
        raw: str = "",
        latency_ms: float | None = None,
        pair: str = "",
        sent: dict | None = None,
    ) -> Vote:
        reason = abstention_reason(reason)
        repeated = self._health.count_abstention(kind, reason)
        # A new kind of failure is an event; the same one again, tick after tick, is not.
        where = f" on {pair}" if pair else ""
        if repeated or kind == "busy":
            log.info("LLM abstained%s: %s", where, reason)
        else:
            log.warning("LLM abstained%s: %s", where, reason, extra={"kind": "llm"})
        return abstention(self.name, self.settings.model, reason, raw, latency_ms, sent)
