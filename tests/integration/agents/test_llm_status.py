"""The LLM's health as the Agents page shows it: "degraded" with the dominant reason when
most recent votes abstain on a server that answers, "offline" when the server is gone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.llm import LlmAgent, LlmSettings, MarketBrief
from tests.support.fake_ollama import FakeOllama, garbled, server_error, valid

MODEL = "llama3.2"
BRIEF = MarketBrief(
    pair="BTC/USDT",
    price=100.0,
    candle_time=datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
    indicators={"rsi": 28.0},
    regime="normal",
    position=None,
    recent_outcomes=[],
)


@pytest.fixture
def ollama():
    with FakeOllama(models=[f"{MODEL}:latest"]) as fake:
        yield fake


def make_agent(host: str, window: int = 10) -> LlmAgent:
    settings = LlmSettings(
        host=host, model=MODEL, timeout_seconds=2.0, degraded_abstain_rate=0.5, status_window=window
    )
    return LlmAgent(settings)


def test_a_server_that_answers_with_every_vote_abstaining_is_degraded_naming_why(ollama):
    ollama.script(*[server_error("llama runner process has terminated")] * 3, garbled())
    agent = make_agent(ollama.host)
    for _ in range(4):
        agent.vote(BRIEF)
    status = agent.status()
    assert (status.reachable, status.state) == (True, "degraded")
    assert status.recent_abstain_rate == 1.0 and status.recent_calls == 4
    assert status.dominant_reason == (
        "http: Ollama returned HTTP 500: llama runner process has terminated "
        "(3 of the last 4 votes)"
    )


def test_a_few_abstentions_among_votes_stay_online(ollama):
    ollama.script(valid(), server_error(), valid(), valid())
    agent = make_agent(ollama.host)
    for _ in range(4):
        agent.vote(BRIEF)
    status = agent.status()
    assert (status.state, status.recent_abstain_rate) == ("online", 0.25)


def test_only_the_last_window_of_votes_counts(ollama):
    ollama.script(*[server_error()] * 3)  # then valid replies
    agent = make_agent(ollama.host, window=4)
    for _ in range(3 + 4):
        agent.vote(BRIEF)
    status = agent.status()
    assert (status.state, status.recent_abstain_rate, status.dominant_reason) == (
        "online",
        0.0,
        None,
    )


def test_a_server_that_is_gone_is_offline():
    fake = FakeOllama(models=[f"{MODEL}:latest"]).start()
    fake.stop()
    agent = make_agent(fake.host)
    agent.vote(BRIEF)
    status = agent.status()
    assert status.state == "offline"
    assert status.dominant_reason.startswith("offline: Ollama not reachable at ")


def test_before_the_first_vote_nothing_is_checked(ollama):
    status = make_agent(ollama.host).status()
    assert (status.state, status.recent_calls, status.recent_abstain_rate) == (
        "not checked",
        0,
        None,
    )
