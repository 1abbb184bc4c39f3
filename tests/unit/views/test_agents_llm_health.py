"""The Agents page says what the engine reported of the LLM: "degraded" with the reason
most votes abstained for, though the server answers."""

from data.store.state import update_state
from tests.support.pages import open_page

DEGRADED = {
    "reachable": True,
    "model": "llama3.2:3b",
    "host": "http://127.0.0.1:11434",
    "last_error": "Ollama returned HTTP 500: llama runner process has terminated",
    "last_error_at": "2026-03-01T10:00:00+00:00",
    "calls": 40,
    "abstentions": 38,
    "median_latency_ms": 900.0,
    "offline_reason": None,
    "state": "degraded",
    "recent_calls": 20,
    "recent_abstain_rate": 0.95,
    "dominant_reason": "http: Ollama returned HTTP 500: llama runner process has terminated "
    "(17 of the last 20 votes)",
}


def test_an_llm_whose_votes_mostly_abstain_shows_degraded_and_why(volt_home, store):
    update_state(store[1], llm_status=DEGRADED)
    app = open_page("views/agents.py")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Ollama"] == "degraded"
    [warning] = [w.value for w in app.warning if w.value.startswith("Degraded")]
    assert "95% of the last 20 votes abstained" in warning
    assert "mostly http: Ollama returned HTTP 500" in warning


def test_a_status_from_an_older_worker_still_reads_online_or_offline(volt_home, store):
    older = {k: v for k, v in DEGRADED.items() if k not in ("state", "recent_calls")}
    update_state(store[1], llm_status=older | {"reachable": False})
    app = open_page("views/agents.py")
    assert {m.label: m.value for m in app.metric}["Ollama"] == "offline"
