"""A tick's LLM votes: every pair asked at once, within one budget; a late pair abstains for
that candle without holding back the others; the worker's stop ends the wait at once and its
commands run while it lasts. A client stands in for Ollama, driven by events, not sleeps."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import ollama
import pytest

from agents.llm import LlmAgent, LlmSettings, MarketBrief
from data.types import VoteSource

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
REPLY = json.dumps({"action": "BUY", "confidence": 0.7, "rationale": "RSI 28 is oversold."})


def brief(pair: str) -> MarketBrief:
    return MarketBrief(
        pair=pair,
        price=100.0,
        candle_time=datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
        indicators={"rsi": 28.0},
        regime="normal",
        position=None,
        recent_outcomes=[],
    )


class EventClient:
    """Ollama's client: /api/tags lists the model; each chat waits for its pair's `release`
    event (set up front unless held) and then answers with a valid reply."""

    def __init__(self, held: tuple[str, ...] = ()) -> None:
        self.release = {pair: threading.Event() for pair in PAIRS}
        for pair in PAIRS:
            if pair not in held:
                self.release[pair].set()
        self.started: list[str] = []
        self.lock = threading.Lock()
        self.before_reply = lambda pair: None

    def list(self):
        return ollama.ListResponse(models=[ollama.ListResponse.Model(model="llama3.2:latest")])

    def chat(self, **request):
        pair = request["messages"][1]["content"].split("\n")[0].removeprefix("Pair: ")
        with self.lock:
            self.started.append(pair)
        self.before_reply(pair)
        self.release[pair].wait(timeout=30)
        return ollama.ChatResponse(
            model="llama3.2", message=ollama.Message(role="assistant", content=REPLY)
        )


def make_agent(client: EventClient, budget: float = 5.0, timeout: float = 20.0) -> LlmAgent:
    settings = LlmSettings(model="llama3.2", timeout_seconds=timeout, tick_budget_seconds=budget)
    return LlmAgent(settings, client=client)


def test_every_pair_is_asked_before_any_reply_comes_back():
    client = EventClient()
    everyone_asked = threading.Barrier(len(PAIRS), timeout=5)
    client.before_reply = lambda pair: everyone_asked.wait()  # breaks if asked one by one
    votes = make_agent(client).vote_all([brief(p) for p in PAIRS])
    assert [v.source for v in votes] == [VoteSource.LLM] * 3
    assert sorted(client.started) == sorted(PAIRS)


def test_a_pair_not_back_within_the_tick_budget_abstains_and_the_others_vote():
    client = EventClient(held=("ETH/USDT",))
    votes = make_agent(client, budget=0.3).vote_all([brief(p) for p in PAIRS])
    assert [v.source for v in votes] == [VoteSource.LLM, VoteSource.ABSTAIN, VoteSource.LLM]
    assert votes[1].rationale == "LLM abstained: no reply within 0.3s"
    assert votes[1].data["prompt"][1]["content"].startswith("Pair: ETH/USDT")
    client.release["ETH/USDT"].set()


def test_the_budget_is_never_longer_than_the_timeout_of_one_vote():
    client = EventClient(held=("BTC/USDT",))
    [vote] = make_agent(client, budget=60, timeout=0.2).vote_all([brief("BTC/USDT")])
    assert vote.rationale == "LLM abstained: no reply within 0.2s"
    client.release["BTC/USDT"].set()


def test_a_pair_whose_late_reply_still_runs_is_busy_and_no_other_pair_is():
    client = EventClient(held=("BTC/USDT",))
    agent = make_agent(client, budget=0.3)
    agent.vote_all([brief(p) for p in PAIRS])
    votes = agent.vote_all([brief(p) for p in PAIRS])
    assert votes[0].rationale == "LLM abstained: previous request still running"
    assert [v.source for v in votes[1:]] == [VoteSource.LLM] * 2
    assert client.started.count("BTC/USDT") == 1, "no second request while the first runs"
    client.release["BTC/USDT"].set()


def test_a_stop_ends_the_wait_at_once_and_the_votes_left_abstain():
    client = EventClient(held=("ETH/USDT",))
    stop = threading.Event()
    client.before_reply = lambda pair: stop.set() if pair == "ETH/USDT" else None
    votes = make_agent(client, budget=60).vote_all([brief(p) for p in PAIRS], stop=stop)
    assert votes[1].rationale == "LLM abstained: the engine is stopping; the reply is not awaited"
    assert not client.release["ETH/USDT"].is_set(), "the wait ended before the reply"
    client.release["ETH/USDT"].set()


def test_what_runs_meanwhile_runs_while_the_votes_are_awaited():
    client = EventClient(held=("BTC/USDT",))
    served = threading.Event()

    def serve_commands() -> None:
        served.set()
        client.release["BTC/USDT"].set()  # the reply comes only once commands were served

    [vote] = make_agent(client, budget=10).vote_all([brief("BTC/USDT")], meanwhile=serve_commands)
    assert served.is_set() and vote.source == VoteSource.LLM


def test_what_fails_meanwhile_is_logged_and_the_vote_still_comes(caplog):
    client = EventClient(held=("BTC/USDT",))

    def broken() -> None:
        client.release["BTC/USDT"].set()
        raise RuntimeError("the commands table is locked")

    [vote] = make_agent(client).vote_all([brief("BTC/USDT")], meanwhile=broken)
    assert vote.source == VoteSource.LLM
    assert "the commands table is locked" in caplog.text


@pytest.mark.parametrize("budget", [0, -1])
def test_settings_refuse_a_tick_budget_that_is_not_positive(budget):
    with pytest.raises(ValueError, match="tick_budget_seconds must be above 0"):
        LlmSettings(tick_budget_seconds=budget)
