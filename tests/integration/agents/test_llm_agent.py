"""The LLM agent against a fake Ollama on loopback: a vote, or an abstention that says why."""

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime

import pytest

from agents.llm import PROMPT_VERSION, LlmAgent, LlmReply, LlmSettings, MarketBrief, render_brief
from agents.llm.reply import PROMPT_MAX_CHARS, exchange_record
from data.types import Action, VoteSource
from tests.support.fake_ollama import (
    FakeOllama,
    empty,
    garbled,
    invalid_json,
    model_not_found,
    schema_violation,
    server_error,
    slow,
    trickle,
    valid,
    wait_until,
)

TIMEOUT = 0.5
RETRY = 30.0
MODEL = "llama3.2"

BRIEF = MarketBrief(
    pair="BTC/USDT",
    price=64123.4567,
    candle_time=datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
    indicators={"rsi": 28.4321, "macd": -12.345, "macd_signal": -8.1, "atr": 410.55},
    regime="ranging",
    position=None,
    recent_outcomes=["BTC/USDT BUY → WIN +1.2%", "ETH/USDT BUY → LOSS -0.8%"],
)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ollama():
    with FakeOllama(models=[f"{MODEL}:latest"]) as fake:
        yield fake


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


def make_agent(host: str, clock: FakeMonotonic, model: str = MODEL, timeout=TIMEOUT) -> LlmAgent:
    settings = LlmSettings(
        host=host, model=model, timeout_seconds=timeout, num_ctx=2048, retry_offline_seconds=RETRY
    )
    return LlmAgent(settings, monotonic=clock)


def test_a_valid_reply_becomes_an_llm_vote_with_the_raw_reply_and_latency(ollama, clock):
    ollama.script(valid("BUY", 0.72, "RSI 28 is oversold;\n  price sits on the lower band."))
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert (vote.agent, vote.source, vote.action, vote.confidence) == (
        "llm",
        VoteSource.LLM,
        Action.BUY,
        0.72,
    )
    assert vote.rationale == "RSI 28 is oversold; price sits on the lower band."
    assert json.loads(vote.data["raw_reply"])["confidence"] == 0.72
    assert vote.data["model"] == MODEL and vote.data["prompt_version"] == PROMPT_VERSION
    assert vote.data["latency_ms"] > 0


def test_a_vote_keeps_the_messages_sent_and_ollamas_token_counts_and_durations(ollama, clock):
    ollama.script(valid("SELL", 0.6, "overbought", eval_count=51, total_duration=2_500_000_000))
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.data["prompt"] == ollama.chat_requests()[0]["messages"]
    assert [m["role"] for m in vote.data["prompt"]] == ["system", "user"]
    assert vote.data["prompt"][1]["content"] == render_brief(BRIEF)
    assert (vote.data["prompt_eval_count"], vote.data["eval_count"]) == (212, 51)
    assert vote.data["total_duration_ms"] == 2500.0 and vote.data["load_duration_ms"] == 21.0


def test_a_bad_reply_keeps_the_prompt_and_tokens_beside_the_raw_reply(ollama, clock):
    ollama.script(invalid_json())
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN
    assert vote.data["prompt"][1]["content"] == render_brief(BRIEF)
    assert vote.data["eval_count"] == 38


def test_a_late_reply_keeps_the_prompt_sent_but_no_token_counts(ollama, clock):
    ollama.script(slow(2.0))
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN and "no reply within" in vote.rationale
    assert vote.data["prompt"][1]["content"] == render_brief(BRIEF)
    assert vote.data["eval_count"] is None and vote.data["total_duration_ms"] is None


def test_each_message_kept_is_bounded_like_the_raw_reply():
    long = {"role": "user", "content": "x" * (PROMPT_MAX_CHARS * 3)}
    kept = exchange_record([long])["prompt"][0]["content"]
    assert len(kept) == PROMPT_MAX_CHARS and kept.endswith("…")


def test_a_reply_that_is_not_json_abstains_and_keeps_the_raw_reply(ollama, clock):
    ollama.script(invalid_json())
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert (vote.source, vote.action, vote.confidence) == (VoteSource.ABSTAIN, Action.HOLD, 0.0)
    assert vote.rationale.startswith("LLM abstained: reply was not valid JSON: ")
    assert vote.data["raw_reply"] == invalid_json().content
    assert vote.data["error"] in vote.rationale
    assert vote.data["latency_ms"] > 0


@pytest.mark.parametrize(
    ("script", "field"),
    [
        (schema_violation(confidence=7), "confidence"),
        (schema_violation(action="MOON", confidence=0.9), "action"),
        (schema_violation(confidence=0.5, rationale="   "), "rationale"),
        (schema_violation(confidence=0.5, stop_loss=1.0), "stop_loss"),
    ],
)
def test_a_reply_outside_the_schema_abstains_naming_the_field(ollama, clock, script, field):
    ollama.script(script)
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN
    assert vote.rationale.startswith(f"LLM abstained: reply did not match the schema: {field}")
    assert vote.data["raw_reply"] == script.content


def test_an_empty_reply_abstains(ollama, clock):
    ollama.script(empty())
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN
    assert vote.rationale == "LLM abstained: reply was empty"


def test_a_garbled_response_body_abstains(ollama, clock):
    ollama.script(garbled())
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN
    assert vote.rationale.startswith("LLM abstained: Ollama's response was garbled: ")


def test_a_slow_reply_abstains_within_the_time_budget(ollama, clock):
    ollama.script(slow(3.0))
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN
    assert vote.rationale == f"LLM abstained: no reply within {TIMEOUT:g}s"
    assert ollama.chat_replies_sent() == 0, "the vote came before the server's late reply"


def test_a_trickling_reply_abstains_within_the_time_budget(ollama, clock):
    # Each byte arrives well within httpx's read timeout; only the total budget stops it.
    ollama.script(trickle(3.0))
    vote = make_agent(ollama.host, clock).vote(BRIEF)
    assert vote.rationale == f"LLM abstained: no reply within {TIMEOUT:g}s"
    assert ollama.chat_replies_sent() == 0, "the vote came before the trickle ended"


def test_no_request_starts_while_a_late_one_is_still_running(ollama, clock):
    ollama.script(trickle(1.0))
    agent = make_agent(ollama.host, clock)
    agent.vote(BRIEF)
    vote = agent.vote(BRIEF)
    assert vote.rationale == "LLM abstained: previous request still running"
    assert ollama.chat_replies_sent() == 0, "the second vote did not wait for the first reply"
    assert len(ollama.chat_requests()) == 1
    assert wait_until(lambda: not agent.request_running, timeout=5)
    assert agent.vote(BRIEF).source == VoteSource.LLM


def test_an_http_500_abstains_with_the_servers_error(ollama, clock):
    ollama.script(server_error("llama runner process has terminated: signal: killed"))
    agent = make_agent(ollama.host, clock)
    vote = agent.vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN
    assert vote.rationale == (
        "LLM abstained: Ollama returned HTTP 500: "
        "llama runner process has terminated: signal: killed"
    )
    assert agent.status().reachable is True, "a server error is not an offline server"


def test_a_model_missing_from_the_tags_is_offline_with_the_pull_hint(clock):
    with FakeOllama(models=["mistral:latest"]) as fake:
        agent = make_agent(fake.host, clock)
        vote = agent.vote(BRIEF)
        assert vote.source == VoteSource.ABSTAIN
        assert vote.rationale == (
            "LLM offline: model llama3.2 is not pulled; run `ollama pull llama3.2`"
        )
        assert fake.chat_requests() == []
        assert agent.status().offline_reason in vote.rationale


def test_model_not_found_from_chat_is_offline_until_the_next_probe(ollama, clock):
    ollama.script(model_not_found(MODEL))
    agent = make_agent(ollama.host, clock)
    assert agent.vote(BRIEF).rationale == (
        "LLM offline: model llama3.2 is not pulled; run `ollama pull llama3.2`"
    )
    clock.advance(RETRY - 1)
    assert agent.vote(BRIEF).source == VoteSource.ABSTAIN
    assert (len(ollama.chat_requests()), ollama.tags_requests()) == (1, 1)

    clock.advance(1)
    assert agent.vote(BRIEF).source == VoteSource.LLM
    assert (len(ollama.chat_requests()), ollama.tags_requests()) == (2, 2)


def test_a_down_server_is_offline_at_once_and_back_online_after_the_retry_interval(clock):
    fake = FakeOllama(models=[f"{MODEL}:latest"]).start()
    fake.stop()  # the port is known and nothing listens on it
    agent = make_agent(fake.host, clock)
    for _ in range(3):
        vote = agent.vote(BRIEF)
        assert vote.rationale == f"LLM offline: Ollama not reachable at {fake.host}"
        assert not agent.request_running
    assert agent.status().reachable is False

    with fake:  # up again, on the same port
        clock.advance(RETRY - 1)
        assert agent.vote(BRIEF).source == VoteSource.ABSTAIN
        assert fake.requests == [], "no probe before the retry interval"
        clock.advance(1)
        assert agent.vote(BRIEF).source == VoteSource.LLM
        assert agent.status().reachable is True
        assert agent.status().offline_reason is None


def test_a_server_that_dies_between_votes_goes_offline(clock):
    fake = FakeOllama(models=[f"{MODEL}:latest"]).start()
    agent = make_agent(fake.host, clock)
    assert agent.vote(BRIEF).source == VoteSource.LLM
    fake.stop()
    vote = agent.vote(BRIEF)
    assert vote.rationale == f"LLM offline: Ollama not reachable at {fake.host}"
    assert agent.status().reachable is False


def test_an_unexpected_client_error_abstains_instead_of_raising(clock):
    class BrokenClient:
        def list(self):
            raise RuntimeError("the client broke")

    settings = LlmSettings(model=MODEL, timeout_seconds=TIMEOUT)
    agent = LlmAgent(settings, client=BrokenClient(), monotonic=clock)
    vote = agent.vote(BRIEF)
    assert vote.source == VoteSource.ABSTAIN
    assert vote.rationale.startswith("LLM offline: Ollama at ")
    assert "RuntimeError: the client broke" in agent.status().last_error


def test_model_names_match_with_and_without_latest(clock):
    with FakeOllama(models=["llama3.2", "qwen2.5:7b"]) as fake:
        assert make_agent(fake.host, clock, model="llama3.2:latest").probe() is True
        assert make_agent(fake.host, clock, model="qwen2.5:7b").probe() is True
        assert make_agent(fake.host, clock, model="qwen2.5").probe() is False


def test_the_request_carries_the_schema_options_keep_alive_and_no_thinking(ollama, clock):
    make_agent(ollama.host, clock).vote(BRIEF)
    (request,) = ollama.chat_requests()
    assert request["model"] == MODEL
    assert request["format"] == LlmReply.model_json_schema()
    assert request["options"] == {"temperature": 0, "num_ctx": 2048}
    assert request["stream"] is False
    assert (request["keep_alive"], request["think"]) == ("30m", False)
    system, user = request["messages"]
    assert system["role"] == "system" and "long-only" in system["content"]
    assert "never adds" in system["content"] and "opens or adds" not in system["content"]
    assert user == {"role": "user", "content": render_brief(BRIEF)}


def test_the_prompt_renders_the_brief_compactly_with_rounded_numbers():
    flat = render_brief(BRIEF)
    assert "Price: 64123.5" in flat
    assert "rsi 28.432, macd -12.345, macd_signal -8.1, atr 410.55" in flat
    assert "Candle: 2026-03-01 12:05 UTC" in flat
    assert "Open position: none (flat)" in flat
    assert "BTC/USDT BUY → WIN +1.2%; ETH/USDT BUY → LOSS -0.8%" in flat

    position = {
        "entry_price": 63000.0,
        "amount": 0.0123456,
        "stop_loss": 61500.0,
        "take_profit": 66000.0,
        "unrealised_pct": 1.7836,
    }
    held = render_brief(MarketBrief(**(asdict(BRIEF) | {"position": position})))
    assert (
        "Open position: entry 63000.0, amount 0.01235, stop loss 61500.0, "
        "take profit 66000.0, unrealised +1.78%"
    ) in held


def test_status_counts_calls_abstentions_and_median_latency(ollama, clock):
    agent = make_agent(ollama.host, clock, timeout=1.0)
    fresh = agent.status()
    assert (fresh.reachable, fresh.calls, fresh.median_latency_ms) == (None, 0, None)

    ollama.script(valid(), invalid_json(), valid(), slow(0.4))
    for _ in range(4):
        agent.vote(BRIEF)
    status = agent.status()
    assert (status.reachable, status.calls, status.abstentions) == (True, 4, 1)
    assert status.median_latency_ms < 100, "one slow reply among four does not move the median"
    assert status.last_error.startswith("reply was not valid JSON")
    assert datetime.fromisoformat(status.last_error_at).tzinfo is not None
    assert json.loads(json.dumps(asdict(status)))["host"] == ollama.host


def test_going_offline_is_one_warning_not_one_per_tick(clock, caplog):
    fake = FakeOllama().start()
    fake.stop()
    agent = make_agent(fake.host, clock)
    with caplog.at_level(logging.INFO, logger="volt.llm"):
        for _ in range(4):
            agent.vote(BRIEF)
            clock.advance(RETRY)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].kind == "llm"
    assert "LLM offline: Ollama not reachable" in warnings[0].getMessage()


def test_a_repeated_bad_reply_warns_once_and_never_logs_the_prompt(ollama, clock, caplog):
    ollama.script(invalid_json(), invalid_json(), invalid_json())
    agent = make_agent(ollama.host, clock)
    with caplog.at_level(logging.INFO, logger="volt.llm"):
        for _ in range(3):
            agent.vote(BRIEF)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.kind for r in warnings] == ["llm"]
    assert all("Indicators:" not in r.getMessage() for r in caplog.records)


def test_settings_refuse_a_budget_that_is_not_positive():
    with pytest.raises(ValueError, match="timeout_seconds must be above 0"):
        LlmSettings(timeout_seconds=0)


def test_credentials_in_the_host_never_reach_a_rationale_or_the_status(clock):
    fake = FakeOllama().start()
    fake.stop()
    host = fake.host.replace("http://", "http://trader:s3cret@")
    agent = make_agent(host, clock)
    vote = agent.vote(BRIEF)
    assert vote.rationale == f"LLM offline: Ollama not reachable at {fake.host}"
    assert "s3cret" not in json.dumps(asdict(agent.status()))


def test_keep_alive_and_think_are_sent_as_set(ollama, clock):
    settings = LlmSettings(host=ollama.host, model=MODEL, keep_alive="2h", think=True)
    LlmAgent(settings, monotonic=clock).vote(BRIEF)
    (request,) = ollama.chat_requests()
    assert (request["keep_alive"], request["think"]) == ("2h", True)


def test_a_reply_trickling_for_one_pair_leaves_the_other_pairs_free(ollama, clock):
    ollama.script_for("BTC/USDT", trickle(2.0))
    agent = make_agent(ollama.host, clock)
    briefs = [MarketBrief(**(asdict(BRIEF) | {"pair": p})) for p in ("BTC/USDT", "ETH/USDT")]
    first = agent.vote_all(briefs)
    assert [v.source for v in first] == [VoteSource.ABSTAIN, VoteSource.LLM]
    assert first[0].rationale == f"LLM abstained: no reply within {TIMEOUT:g}s"
    second = agent.vote_all(briefs)  # BTC's first reply is still trickling in
    assert second[0].rationale == "LLM abstained: previous request still running"
    assert second[1].source == VoteSource.LLM
