"""A fake Ollama on loopback: /api/chat and /api/tags in the real wire format, scriptable.

    with FakeOllama(models=["llama3.2:latest"]) as fake:
        fake.script(invalid_json(), slow(2.0))   # the next two /api/chat answers
        agent = LlmAgent(LlmSettings(host=fake.host, ...))

Each /api/chat request takes the next scripted `ChatScript`, or a valid reply when the
script is empty; a model missing from `models` gets Ollama's 404. Every request is kept in
`requests`. `stop()` closes the port (a server that is down) and `start()` opens it again.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIGEST = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"


@dataclass(frozen=True)
class ChatScript:
    """How the fake answers one /api/chat request."""

    content: str | None = None  # message.content; None means a valid reply
    status: int = 200
    error: str = ""  # the `error` field of a 4xx/5xx body
    delay_seconds: float = 0.0  # silence before the headers
    trickle_seconds: float = 0.0  # spread the body over this long, a byte at a time
    done_reason: str = "stop"
    raw_body: str | None = None  # sent as-is with a 200, for a garbled response
    # What a real reply reports of its cost: tokens, and durations in nanoseconds.
    prompt_eval_count: int = 212
    eval_count: int = 38
    total_duration: int = 1_840_000_000
    load_duration: int = 21_000_000
    prompt_eval_duration: int = 410_000_000
    eval_duration: int = 1_390_000_000


def valid(
    action: str = "BUY", confidence: float = 0.7, rationale: str = "", **cost: int
) -> ChatScript:
    """A reply in the schema; `cost` sets its token counts or durations (ChatScript's names)."""
    rationale = rationale or "RSI 28 is oversold and price sits on the lower band."
    reply = {"action": action, "confidence": confidence, "rationale": rationale}
    return ChatScript(content=json.dumps(reply), **cost)


def invalid_json() -> ChatScript:
    return ChatScript(content='{"action": "BUY", "confidence": 0.8, "rationale": "RSI is lo')


def schema_violation(**reply: Any) -> ChatScript:
    """Well-formed JSON outside the schema: confidence 7 unless told otherwise."""
    body = {"action": "BUY", "confidence": 7, "rationale": "to the moon"} | reply
    return ChatScript(content=json.dumps(body))


def empty() -> ChatScript:
    return ChatScript(content="")


def garbled() -> ChatScript:
    return ChatScript(raw_body="<html><body>502 Bad Gateway</body></html>")


def slow(seconds: float) -> ChatScript:
    return ChatScript(delay_seconds=seconds)


def trickle(seconds: float) -> ChatScript:
    return ChatScript(trickle_seconds=seconds)


def server_error(
    message: str = "llama runner process has terminated: signal: killed",
) -> ChatScript:
    return ChatScript(status=500, error=message)


def model_not_found(model: str) -> ChatScript:
    return ChatScript(status=404, error=f'model "{model}" not found, try pulling it first')


@dataclass
class Received:
    method: str
    path: str
    body: dict | None


@dataclass
class FakeOllama:
    models: list[str] = field(default_factory=lambda: ["llama3.2:latest"])
    port: int = 0  # 0 picks a free port on start; kept for restarts
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: list[ChatScript] = []
        self._by_pair: dict[str, list[ChatScript]] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()  # cuts slow and trickling replies short on stop
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._chat_replies_sent = 0

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *answers: ChatScript) -> None:
        with self._lock:
            self._script.extend(answers)

    def script_for(self, pair: str, *answers: ChatScript) -> None:
        """The next answers to requests about `pair` (its brief's "Pair:" line), taken
        before the shared script: pairs asked at once arrive in any order."""
        with self._lock:
            self._by_pair.setdefault(pair, []).extend(answers)

    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [r.body or {} for r in self.requests if r.path == "/api/chat"]

    def chat_replies_sent(self) -> int:
        """Chat replies written to the end: a client that gave up earlier never saw one."""
        with self._lock:
            return self._chat_replies_sent

    def tags_requests(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == "/api/tags")

    def start(self) -> FakeOllama:
        self._closing.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: from now on connections are refused."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOllama:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the handler's side ---------------------------------------------------------------

    def _record(self, received: Received) -> ChatScript | None:
        with self._lock:
            self.requests.append(received)
            if received.path != "/api/chat":
                return None
            by_pair = self._by_pair.get(_pair_of(received.body or {}))
            if by_pair:
                return by_pair.pop(0)
            if self._script:
                return self._script.pop(0)
        return None

    def _pause(self, seconds: float) -> bool:
        """Sleep; False when the server is stopping."""
        return not self._closing.wait(seconds)

    def _sent_chat_reply(self) -> None:
        with self._lock:
            self._chat_replies_sent += 1

    def _has_model(self, model: str) -> bool:
        return _full_name(model) in {_full_name(name) for name in self.models}


def _handler_for(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a stopped server really is gone.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            fake._record(Received("GET", self.path, None))
            if self.path != "/api/tags":
                self._send_text(404, "404 page not found")
                return
            self._send_json(200, {"models": [_tag(name) for name in fake.models]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"unparsed": raw.decode("utf-8", "replace")}
            script = fake._record(Received("POST", self.path, body))
            if self.path != "/api/chat":
                self._send_text(404, "404 page not found")
                return
            model = str(body.get("model", ""))
            if script is None:
                script = valid() if fake._has_model(model) else model_not_found(model)
            if script.delay_seconds and not fake._pause(script.delay_seconds):
                return
            if script.raw_body is not None:
                self._send_text(200, script.raw_body)
                return
            if script.status != 200:
                self._send_json(script.status, {"error": script.error})
                return
            if self._send_json(200, _chat_response(model, script), script.trickle_seconds):
                fake._sent_chat_reply()

        def _send_json(self, status: int, body: dict, trickle: float = 0.0) -> bool:
            """Whether the whole body was written."""
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                if not trickle:
                    self.wfile.write(payload)
                    return True
                pause = trickle / len(payload)
                for i in range(len(payload)):
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()
                    if not fake._pause(pause):
                        return False
                return True
            except (BrokenPipeError, ConnectionResetError):
                return False  # the client gave up, as it should

        def _send_text(self, status: int, text: str) -> None:
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _chat_response(model: str, script: ChatScript) -> dict:
    content = script.content if script.content is not None else valid().content
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": content},
        "done": True,
        "done_reason": script.done_reason,
        "total_duration": script.total_duration,
        "load_duration": script.load_duration,
        "prompt_eval_count": script.prompt_eval_count,
        "prompt_eval_duration": script.prompt_eval_duration,
        "eval_count": script.eval_count,
        "eval_duration": script.eval_duration,
    }


def _tag(name: str) -> dict:
    family = "llama"
    return {
        "name": name,
        "model": name,
        "modified_at": "2026-11-02T09:14:51.402611+01:00",
        "size": 2019393189,
        "digest": DIGEST,
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    }


def _pair_of(body: dict) -> str:
    for message in body.get("messages") or []:
        content = str(message.get("content", "")) if isinstance(message, dict) else ""
        if content.startswith("Pair: "):
            return content.split("\n", 1)[0].removeprefix("Pair: ")
    return ""


def _full_name(model: str) -> str:
    last = model.rsplit("/", 1)[-1]
    return model if ":" in last else f"{model}:latest"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
