"""Talking to Ollama: chat requests and /api/tags probes within the time budget, and whether
the server is online; an offline server is probed again every `retry_offline_seconds`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import httpx
import ollama

from agents.llm.bounded import Attempt, Requests, Waiting
from agents.llm.reply import LlmReply
from agents.llm.settings import LlmSettings
from agents.llm.status import LlmHealth
from agents.llm.text import shorten

log = logging.getLogger("volt.llm")


class OllamaConnection:
    def __init__(
        self,
        settings: LlmSettings,
        client: Any,
        health: LlmHealth,
        monotonic: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.host = without_credentials(settings.host)  # what logs and pages may show
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else ollama.Client(host=settings.host, timeout=settings.timeout_seconds)
        )
        self._health = health
        self._monotonic = monotonic  # schedules re-probes only; budgets use the wall
        self._requests = Requests()
        self._next_probe_at = 0.0

    @property
    def request_running(self) -> bool:
        return self._requests.running()

    def start_chat(self, pair: str, messages: list[dict[str, str]]) -> Future | None:
        """One chat request for `pair` started (None while its last one still runs): the
        reply's schema as `format`, temperature 0, no streaming, the model kept loaded for
        `keep_alive` and thinking as `think` says."""
        settings = self.settings
        return self._requests.start(
            pair,
            lambda: self._client.chat(
                model=settings.model,
                messages=messages,
                format=LlmReply.model_json_schema(),
                options={"temperature": 0, "num_ctx": settings.num_ctx},
                stream=False,
                keep_alive=settings.keep_alive,
                think=settings.think,
            ),
        )

    def probe_due(self) -> bool:
        if self._health.reachable is None:
            return True
        return self._health.reachable is False and self._monotonic() >= self._next_probe_at

    def probe(self, waiting: Waiting) -> Attempt:
        """Ask /api/tags whether Ollama answers and has the model; marks online or offline
        (a wait cut short by the worker's stop marks nothing)."""
        attempt = self._requests.run("/api/tags", self._client.list, waiting)
        if attempt.busy or attempt.stopped:
            return attempt
        if attempt.late:
            self.go_offline(self.unreachable(), f"no answer to /api/tags: {self.late_reason()}")
        elif isinstance(attempt.error, ConnectionError | httpx.HTTPError):
            self.go_offline(self.unreachable(), f"{type(attempt.error).__name__}: {attempt.error}")
        elif attempt.error is not None:
            detail = shorten(f"{type(attempt.error).__name__}: {attempt.error}", 300)
            self.go_offline(f"Ollama at {self.host} answered /api/tags badly", detail)
        else:
            pulled = [m.model for m in attempt.value.models if m.model]
            if _model_pulled(self.settings.model, pulled):
                self._go_online()
            else:
                have = ", ".join(pulled) or "no models"
                self.go_offline(self.not_pulled(), f"/api/tags lists {have}")
        return attempt

    def go_offline(self, reason: str, detail: str) -> None:
        changed = self._health.mark_offline(reason, f"{reason}: {detail}")
        self._next_probe_at = self._monotonic() + self.settings.retry_offline_seconds
        if changed:
            log.warning(
                "LLM offline: %s (%s); probing again every %g s",
                reason,
                shorten(detail, 300),
                self.settings.retry_offline_seconds,
                extra={"kind": "llm"},
            )
        else:
            log.info("LLM still offline: %s (%s)", reason, shorten(detail, 300))

    def _go_online(self) -> None:
        was = self._health.mark_online()
        where = f"model {self.settings.model} at {self.host}"
        if was is False:
            log.info("LLM back online: %s", where, extra={"kind": "llm"})
        elif was is None:
            log.info("LLM online: %s", where)

    def unreachable(self) -> str:
        return f"Ollama not reachable at {self.host}"

    def not_pulled(self) -> str:
        model = self.settings.model
        return f"model {model} is not pulled; run `ollama pull {model}`"

    def late_reason(self) -> str:
        return f"no reply within {self.settings.vote_budget_seconds:g}s"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def is_model_missing(error: ollama.ResponseError) -> bool:
    text = str(error.error).lower()
    return error.status_code == 404 and "model" in text and "not found" in text


def without_credentials(host: str) -> str:
    """`http://user:secret@box:11434` shows as `http://box:11434`."""
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "", host
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"


def _model_pulled(wanted: str, pulled: Sequence[str]) -> bool:
    return _full_name(wanted) in {_full_name(name) for name in pulled}


def _full_name(model: str) -> str:
    """`llama3.2` and `llama3.2:latest` are one model; a registry port is not a tag."""
    last = model.rsplit("/", 1)[-1]
    return model if ":" in last else f"{model}:latest"
