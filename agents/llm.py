"""LLM agent: one vote from a local Ollama model, or an abstention that says why.

A reply that cannot be trusted (late, garbled, off-schema, an HTTP error) is recorded as an
abstention with the raw reply kept, never as a HOLD: a failed parse that defaults to "hold"
looks like a real vote for months. The call runs on a worker thread so that a server which
trickles bytes cannot hold the trading loop past the time budget.
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import ollama
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.base import MarketBrief
from data.types import Action, Vote, VoteSource

log = logging.getLogger("volt.llm")

RATIONALE_MAX_CHARS = 500
RAW_REPLY_MAX_CHARS = 2000
REASON_DETAIL_MAX_CHARS = 200
LATENCY_WINDOW = 50  # calls behind the median latency
RECENT_OUTCOMES_SHOWN = 10
BUSY = "previous request still running"

SYSTEM_PROMPT = (
    "You are a cautious spot crypto trader voting on one pair for a long-only book. "
    "BUY opens or adds to a position; SELL closes the open position (with no position, "
    "SELL means the same as HOLD); HOLD does nothing. Prefer HOLD when the signals "
    "disagree or are weak. Give a confidence from 0 to 1 and a rationale of one or two "
    "plain sentences naming the numbers that decided it. Answer only with a JSON object "
    'with the keys "action", "confidence" and "rationale".'
)


@dataclass(frozen=True)
class LlmSettings:
    host: str = "http://127.0.0.1:11434"
    model: str = "llama3.2:3b"
    timeout_seconds: float = 20.0  # the hard budget of one vote, probe included
    num_ctx: int = 4096
    retry_offline_seconds: float = 300.0  # how often an offline server is probed again

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("llm.model is empty: name an Ollama model, e.g. llama3.2")
        if not self.timeout_seconds > 0:
            raise ValueError(f"llm.timeout_seconds must be above 0, got {self.timeout_seconds}")
        if self.num_ctx < 256:
            raise ValueError(f"llm.num_ctx must be at least 256 tokens, got {self.num_ctx}")
        if self.retry_offline_seconds < 0:
            raise ValueError(
                f"llm.retry_offline_seconds must be 0 or more, got {self.retry_offline_seconds}"
            )


class LlmReply(BaseModel):
    """The only reply accepted; its JSON schema is sent to Ollama as `format`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["BUY", "SELL", "HOLD"]
    confidence: float = Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False)
    rationale: str = Field(min_length=1, max_length=RATIONALE_MAX_CHARS)


@dataclass
class LlmStatus:
    """What the dashboard shows about the LLM; JSON-able with `dataclasses.asdict`."""

    reachable: bool | None  # None until the first probe
    model: str
    host: str
    last_error: str | None
    last_error_at: str | None  # UTC, ISO 8601
    calls: int  # votes asked for
    abstentions: int  # of those, votes that abstained (offline included)
    median_latency_ms: float | None  # over the last answered chat requests
    offline_reason: str | None


@dataclass(frozen=True)
class _Attempt:
    """One bounded request: its value or error, or that it was late or refused."""

    value: Any = None
    error: BaseException | None = None
    latency_ms: float | None = None
    late: bool = False
    busy: bool = False


def render_brief(brief: MarketBrief) -> str:
    """The user message: the brief, compact, numbers rounded."""
    indicators = ", ".join(f"{name} {_num(value)}" for name, value in brief.indicators.items())
    candle_time = (
        brief.candle_time.strftime("%Y-%m-%d %H:%M UTC")
        if isinstance(brief.candle_time, datetime)
        else str(brief.candle_time)
    )
    lines = [
        f"Pair: {brief.pair}",
        f"Candle: {candle_time}",
        f"Price: {_num(brief.price)}",
        f"Regime: {brief.regime}",
        f"Indicators: {indicators or 'none'}",
        f"Open position: {_render_position(brief.position)}",
    ]
    outcomes = [_shorten(str(o), 80) for o in list(brief.recent_outcomes)[-RECENT_OUTCOMES_SHOWN:]]
    lines.append("Recent outcomes (oldest first): " + ("; ".join(outcomes) or "none"))
    lines.append("Vote BUY, SELL or HOLD.")
    return "\n".join(lines)


def chat_messages(brief: MarketBrief) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": render_brief(brief)},
    ]


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
        self._host = _without_credentials(settings.host)  # what logs and pages may show
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else ollama.Client(host=settings.host, timeout=settings.timeout_seconds)
        )
        self._monotonic = monotonic  # schedules re-probes only; budgets use the wall
        self._utc_now = utc_now
        self._lock = threading.Lock()
        self._inflight: Future | None = None
        self._reachable: bool | None = None
        self._offline_reason: str | None = None
        self._next_probe_at = 0.0
        self._last_error: str | None = None
        self._last_error_at: str | None = None
        self._last_failure: str | None = None  # kind of the last abstention, for log levels
        self._calls = 0
        self._abstentions = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)

    # -- public -------------------------------------------------------------------------

    def vote(self, brief: MarketBrief) -> Vote:
        """A vote within `timeout_seconds`; never raises."""
        deadline = time.perf_counter() + self.settings.timeout_seconds
        with self._lock:
            self._calls += 1
        try:
            return self._vote(brief, deadline)
        except Exception as exc:  # the promise is a vote, whatever went wrong
            log.exception("LLM agent failed unexpectedly", extra={"kind": "llm"})
            return self._abstain("unexpected", f"unexpected error: {type(exc).__name__}: {exc}")

    def probe(self) -> bool:
        """Ask /api/tags whether Ollama answers and has the model; True when online."""
        try:
            attempt = self._probe(time.perf_counter() + self.settings.timeout_seconds)
            if attempt.busy:
                log.info("LLM probe skipped: %s", BUSY)
        except Exception:
            log.exception("LLM probe failed unexpectedly", extra={"kind": "llm"})
        return self._reachable is True

    def status(self) -> LlmStatus:
        with self._lock:
            latencies = list(self._latencies)
            return LlmStatus(
                reachable=self._reachable,
                model=self.settings.model,
                host=self._host,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                calls=self._calls,
                abstentions=self._abstentions,
                median_latency_ms=round(statistics.median(latencies), 1) if latencies else None,
                offline_reason=self._offline_reason,
            )

    @property
    def request_running(self) -> bool:
        """A request (perhaps a late one) still holds the worker thread."""
        with self._lock:
            return self._inflight is not None and not self._inflight.done()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # -- one vote -----------------------------------------------------------------------

    def _vote(self, brief: MarketBrief, deadline: float) -> Vote:
        if self._probe_due():
            attempt = self._probe(deadline)
            if attempt.busy:
                return self._abstain("busy", BUSY, pair=brief.pair)
        if self._reachable is not True:
            return self._offline_vote(brief.pair)

        messages = chat_messages(brief)
        log.debug("LLM prompt for %s: %s", brief.pair, messages[1]["content"])
        attempt = self._run_bounded(lambda: self._chat(messages), deadline)
        if attempt.busy:
            return self._abstain("busy", BUSY, pair=brief.pair)
        if attempt.late:
            return self._abstain("late", self._late_reason(), pair=brief.pair)
        if attempt.error is not None:
            return self._chat_failed(attempt.error, brief.pair)
        return self._read_reply(attempt.value, attempt.latency_ms, brief.pair)

    def _chat(self, messages: list[dict[str, str]]) -> ollama.ChatResponse:
        return self._client.chat(
            model=self.settings.model,
            messages=messages,
            format=LlmReply.model_json_schema(),
            options={"temperature": 0, "num_ctx": self.settings.num_ctx},
            stream=False,
        )

    def _chat_failed(self, error: BaseException, pair: str) -> Vote:
        if isinstance(error, ConnectionError):
            self._go_offline(self._unreachable(), str(error))
            return self._offline_vote(pair)
        if isinstance(error, ollama.ResponseError):
            if _is_model_missing(error):
                self._go_offline(self._not_pulled(), f"/api/chat: {error.error}")
                return self._offline_vote(pair)
            detail = _shorten(str(error.error), REASON_DETAIL_MAX_CHARS)
            reason = f"Ollama returned HTTP {error.status_code}: {detail}"
            return self._abstain("http", reason, pair=pair)
        if isinstance(error, httpx.TimeoutException):
            return self._abstain("late", self._late_reason(), pair=pair)
        if isinstance(error, httpx.HTTPError):
            detail = f"{type(error).__name__}: {error}"
            return self._abstain("transport", f"connection to Ollama failed: {detail}", pair=pair)
        if isinstance(error, ValueError):  # a 200 whose body is not a chat response
            detail = _shorten(str(error), REASON_DETAIL_MAX_CHARS)
            return self._abstain("garbled", f"Ollama's response was garbled: {detail}", pair=pair)
        return self._abstain(
            "unexpected", f"unexpected error: {type(error).__name__}: {error}", pair=pair
        )

    def _read_reply(self, response: Any, latency_ms: float | None, pair: str) -> Vote:
        if latency_ms is not None:
            with self._lock:
                self._latencies.append(latency_ms)
        message = getattr(response, "message", None)
        raw = getattr(message, "content", None) or ""
        facts = {"raw": raw, "latency_ms": latency_ms, "pair": pair}
        if not raw.strip():
            return self._abstain("empty", "reply was empty", **facts)
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            cut_off = getattr(response, "done_reason", None) == "length"
            cut = " (cut off at the token limit)" if cut_off else ""
            return self._abstain("invalid_json", f"reply was not valid JSON{cut}: {exc}", **facts)
        try:
            reply = LlmReply.model_validate(parsed)
        except ValidationError as exc:
            return self._abstain(
                "schema", f"reply did not match the schema: {_summarise(exc)}", **facts
            )
        self._last_failure = None
        return Vote(
            self.name,
            Action(reply.action),
            reply.confidence,
            _clean(reply.rationale),
            VoteSource.LLM,
            {"model": self.settings.model, "latency_ms": latency_ms, "raw_reply": raw},
        )

    # -- reachability -------------------------------------------------------------------

    def _probe_due(self) -> bool:
        if self._reachable is None:
            return True
        return self._reachable is False and self._monotonic() >= self._next_probe_at

    def _probe(self, deadline: float) -> _Attempt:
        attempt = self._run_bounded(self._client.list, deadline)
        if attempt.busy:
            return attempt
        if attempt.late:
            self._go_offline(self._unreachable(), f"no answer to /api/tags: {self._late_reason()}")
        elif isinstance(attempt.error, ConnectionError | httpx.HTTPError):
            self._go_offline(
                self._unreachable(), f"{type(attempt.error).__name__}: {attempt.error}"
            )
        elif attempt.error is not None:
            detail = _shorten(f"{type(attempt.error).__name__}: {attempt.error}", 300)
            self._go_offline(f"Ollama at {self._host} answered /api/tags badly", detail)
        else:
            pulled = [m.model for m in attempt.value.models if m.model]
            if _model_pulled(self.settings.model, pulled):
                self._go_online()
            else:
                have = ", ".join(pulled) or "no models"
                self._go_offline(self._not_pulled(), f"/api/tags lists {have}")
        return attempt

    def _go_offline(self, reason: str, detail: str) -> None:
        with self._lock:
            changed = self._reachable is not False or self._offline_reason != reason
            self._reachable = False
            self._offline_reason = reason
            self._next_probe_at = self._monotonic() + self.settings.retry_offline_seconds
            self._record_error(f"{reason}: {detail}")
        if changed:
            log.warning(
                "LLM offline: %s (%s); probing again every %g s",
                reason,
                _shorten(detail, 300),
                self.settings.retry_offline_seconds,
                extra={"kind": "llm"},
            )
        else:
            log.info("LLM still offline: %s (%s)", reason, _shorten(detail, 300))

    def _go_online(self) -> None:
        with self._lock:
            was = self._reachable
            self._reachable = True
            self._offline_reason = None
        where = f"model {self.settings.model} at {self._host}"
        if was is False:
            log.info("LLM back online: %s", where, extra={"kind": "llm"})
        elif was is None:
            log.info("LLM online: %s", where)

    def _unreachable(self) -> str:
        return f"Ollama not reachable at {self._host}"

    def _not_pulled(self) -> str:
        model = self.settings.model
        return f"model {model} is not pulled; run `ollama pull {model}`"

    def _late_reason(self) -> str:
        return f"no reply within {self.settings.timeout_seconds:g}s"

    # -- the time budget ----------------------------------------------------------------

    def _run_bounded(self, request: Callable[[], Any], deadline: float) -> _Attempt:
        """Run `request` on a daemon thread and wait for it until `deadline` at most.

        httpx timeouts bound each read, not the whole reply, so the wait here is what holds
        the budget. A late request keeps its thread until it ends; none starts meanwhile.
        """
        with self._lock:
            if self._inflight is not None and not self._inflight.done():
                return _Attempt(busy=True)
            future: Future = Future()
            self._inflight = future
        threading.Thread(
            target=_fulfil, args=(future, request), name="volt-llm", daemon=True
        ).start()
        try:
            error, value, latency_ms = future.result(
                timeout=max(0.0, deadline - time.perf_counter())
            )
        except FutureTimeout:
            future.add_done_callback(_log_late_completion)
            return _Attempt(late=True)
        return _Attempt(value=value, error=error, latency_ms=latency_ms)

    # -- abstentions --------------------------------------------------------------------

    def _offline_vote(self, pair: str) -> Vote:
        reason = self._offline_reason or self._unreachable()
        with self._lock:
            self._abstentions += 1
        log.info("LLM abstained on %s: offline: %s", pair, reason)
        return Vote(
            self.name,
            Action.HOLD,
            0.0,
            f"LLM offline: {reason}",
            VoteSource.ABSTAIN,
            {"model": self.settings.model, "latency_ms": None, "raw_reply": "", "error": reason},
        )

    def _abstain(
        self,
        kind: str,
        reason: str,
        raw: str = "",
        latency_ms: float | None = None,
        pair: str = "",
    ) -> Vote:
        reason = _shorten(_clean(reason), REASON_DETAIL_MAX_CHARS + 60)
        with self._lock:
            self._abstentions += 1
            self._record_error(reason)
            repeated = kind == self._last_failure
            self._last_failure = kind
        # A new kind of failure is an event; the same one again, tick after tick, is not.
        where = f" on {pair}" if pair else ""
        if repeated or kind == "busy":
            log.info("LLM abstained%s: %s", where, reason)
        else:
            log.warning("LLM abstained%s: %s", where, reason, extra={"kind": "llm"})
        return Vote(
            self.name,
            Action.HOLD,
            0.0,
            f"LLM abstained: {reason}",
            VoteSource.ABSTAIN,
            {
                "model": self.settings.model,
                "latency_ms": latency_ms,
                "raw_reply": _shorten(raw, RAW_REPLY_MAX_CHARS),
                "error": reason,
            },
        )

    def _record_error(self, message: str) -> None:
        """Callers hold the lock."""
        self._last_error = message
        self._last_error_at = self._utc_now().astimezone(UTC).isoformat(timespec="seconds")


def _fulfil(future: Future, request: Callable[[], Any]) -> None:
    started = time.perf_counter()
    try:
        value, error = request(), None
    except Exception as exc:  # handed to the waiting caller, which decides
        value, error = None, exc
    future.set_result((error, value, round((time.perf_counter() - started) * 1000.0, 1)))


def _log_late_completion(future: Future) -> None:
    error, _value, latency_ms = future.result()
    outcome = f"failed ({type(error).__name__})" if error else "arrived"
    log.info("late LLM request %s after %.0f ms; discarded", outcome, latency_ms)


def _is_model_missing(error: ollama.ResponseError) -> bool:
    text = str(error.error).lower()
    return error.status_code == 404 and "model" in text and "not found" in text


def _model_pulled(wanted: str, pulled: Sequence[str]) -> bool:
    return _full_name(wanted) in {_full_name(name) for name in pulled}


def _full_name(model: str) -> str:
    """`llama3.2` and `llama3.2:latest` are one model; a registry port is not a tag."""
    last = model.rsplit("/", 1)[-1]
    return model if ":" in last else f"{model}:latest"


def _without_credentials(host: str) -> str:
    """`http://user:secret@box:11434` shows as `http://box:11434`."""
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "", host
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"


def _summarise(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"]) or "reply"
        problems.append(f"{where}: {item['msg']} (got {_shorten(repr(item['input']), 40)})")
    return "; ".join(problems)


def _render_position(position: dict[str, float] | None) -> str:
    if not position:
        return "none (flat)"
    parts = [
        f"entry {_num(position.get('entry_price'))}",
        f"amount {_num(position.get('amount'))}",
        f"stop loss {_num(position.get('stop_loss'))}",
        f"take profit {_num(position.get('take_profit'))}",
    ]
    unrealised = position.get("unrealised_pct")
    if unrealised is not None and math.isfinite(unrealised):
        parts.append(f"unrealised {unrealised:+.2f}%")
    return ", ".join(parts)


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """One line, no control characters: rationales end up in tables and logs."""
    return _WHITESPACE.sub(" ", _CONTROL.sub("", text)).strip()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
