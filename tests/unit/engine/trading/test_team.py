"""The live agents in the trading loop: the LLM through a fake Ollama on loopback, and the
Fear & Greed index through a fake index server. Neither may stall the loop or pretend."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from agents.fear_greed import FearGreedSentiment
from data.store.models import Decision, VoteRow
from data.types import Action, VoteSource
from tests.support.fake_ollama import FakeOllama, invalid_json, valid
from tests.support.runs import run_ticks

TEAM_WITH_LLM = """
[market]
pairs = ["BTC/USDT", "ETH/USDT"]
history_candles = 120
[agents.weights]
technical = 1.0
llm = 1.0
[agents.llm]
host = "{host}"
model = "llama3.2"
timeout_seconds = 1.0
retry_offline_seconds = 3600
"""


def llm_votes(store):
    """In the order asked: candle by candle, pair by pair (BTC before ETH). A decision that
    trades is stored after those that do not, so the ids alone do not tell."""
    with store[1]() as session:
        return session.scalars(
            select(VoteRow)
            .join(Decision, Decision.id == VoteRow.decision_id)
            .where(VoteRow.agent == "llm")
            .order_by(Decision.candle_ts, Decision.pair)
        ).all()


def test_the_llm_votes_in_the_loop_and_its_reply_is_kept(trader_factory, store, tmp_path):
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        # Both pairs are asked at once: each gets its own answer whatever the order.
        ollama.script_for("BTC/USDT", valid("BUY", 0.9, "RSI is low and the range holds"))
        ollama.script_for("ETH/USDT", invalid_json())
        config = tmp_path / "llm.toml"
        config.write_text(TEAM_WITH_LLM.format(host=ollama.host))
        trader, clock = trader_factory(config)
        run_ticks(trader, clock, market_hours=0.5)
        votes = llm_votes(store)
        assert len(votes) == 12  # 6 candles x 2 pairs, every one asked
        first, second = votes[0], votes[1]
        assert (first.source, first.action, first.confidence) == ("llm", "BUY", 0.9)
        assert first.rationale == "RSI is low and the range holds"
        assert json.loads(first.data["raw_reply"])["confidence"] == 0.9
        assert first.weight == 1.0
        # the garbled reply abstained, kept its raw text, and dropped out of the weighting
        assert second.source == "abstain" and "not valid JSON" in second.rationale
        assert second.data["raw_reply"] and second.weight == 0.0
        prompts = [r["messages"][-1]["content"] for r in ollama.chat_requests()[:2]]
        assert sorted(p.split("\n")[0] for p in prompts) == ["Pair: BTC/USDT", "Pair: ETH/USDT"]
        assert all("rsi" in p.lower() for p in prompts)
        status = trader.llm_status()
        assert status["reachable"] is True and status["calls"] == 12
        assert status["abstentions"] == 1


def test_the_stored_llm_vote_carries_the_prompt_sent_and_the_replys_tokens(
    trader_factory, store, tmp_path
):
    with FakeOllama(models=["llama3.2:latest"]) as ollama:
        # The pairs are asked at once: BTC/USDT's first request is not always the first.
        ollama.script_for(
            "BTC/USDT", valid("HOLD", 0.4, "mixed", prompt_eval_count=301, eval_count=27)
        )
        config = tmp_path / "llm.toml"
        config.write_text(TEAM_WITH_LLM.format(host=ollama.host))
        trader, clock = trader_factory(config)
        run_ticks(trader, clock, market_hours=0.1)
        stored = llm_votes(store)[0].data  # the first candle's BTC/USDT vote
        sent = next(
            request["messages"]
            for request in ollama.chat_requests()
            if request["messages"][-1]["content"].startswith("Pair: BTC/USDT\n")
        )
    assert stored["prompt"] == sent  # the system and the user message, as Ollama got them
    assert (stored["prompt_eval_count"], stored["eval_count"]) == (301, 27)
    assert stored["total_duration_ms"] == 1840.0 and stored["eval_duration_ms"] == 1390.0
    assert stored["load_duration_ms"] == 21.0 and stored["prompt_eval_duration_ms"] == 410.0


def test_an_unreachable_ollama_is_skipped_quickly_and_never_counts(trader_factory, store, tmp_path):
    ollama = FakeOllama().start()
    ollama.stop()  # a port with nothing listening
    config = tmp_path / "llm.toml"
    config.write_text(TEAM_WITH_LLM.format(host=ollama.host))
    trader, clock = trader_factory(config)
    run_ticks(trader, clock, market_hours=1)
    votes = llm_votes(store)
    assert len(votes) == 24
    assert all(v.source == "abstain" and "LLM offline" in v.rationale for v in votes)
    assert all(v.weight == 0.0 for v in votes)
    with store[1]() as session:
        assert session.scalars(select(Decision)).all()  # the rest of the team decided
    assert trader.llm_status()["reachable"] is False


class FearGreedServer:
    """A loopback stand-in for the public index: scriptable body and status."""

    def __init__(self) -> None:
        self.body: bytes = b""
        self.status = 200
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.hits += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fng/?limit=1"

    def reading(self, value: int, label: str, age: timedelta = timedelta(hours=3)) -> None:
        stamp = int((datetime.now(UTC) - age).timestamp())
        self.body = json.dumps(
            {
                "name": "Fear and Greed Index",
                "data": [
                    {"value": str(value), "value_classification": label, "timestamp": str(stamp)}
                ],
            }
        ).encode()


@pytest.fixture
def index():
    server = FearGreedServer()
    yield server
    server.httpd.shutdown()


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(
    ("value", "action"), [(12, Action.BUY), (50, Action.HOLD), (88, Action.SELL)]
)
def test_fear_and_greed_is_read_contrarian(index, value, action):
    index.reading(value, "Extreme Fear")
    vote = FearGreedSentiment(index.url, 3600, 2).vote()
    assert vote.source == VoteSource.RULE and vote.action == action
    assert vote.confidence == pytest.approx(abs(value - 50) / 50)
    assert f"Fear & Greed index {value}" in vote.rationale


def test_the_index_is_fetched_once_per_refresh_interval(index):
    index.reading(20, "Extreme Fear")
    clock = Clock()
    agent = FearGreedSentiment(index.url, 3600, 2, monotonic=clock)
    for _ in range(5):
        agent.vote()
    assert index.hits == 1
    clock.now += 3600
    agent.vote()
    assert index.hits == 2


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: setattr(s, "status", 503), "HTTP 503"),
        (lambda s: setattr(s, "body", b"<html>rate limited</html>"), "unreadable reply"),
        (lambda s: s.reading(20, "Fear", age=timedelta(days=5)), "too old"),
        (lambda s: s.httpd.shutdown() or s.httpd.server_close(), "ConnectError"),
    ],
    ids=["http-error", "garbled", "stale", "down"],
)
def test_an_unavailable_index_abstains_with_the_reason(index, setup, reason):
    index.reading(20, "Extreme Fear")
    setup(index)
    vote = FearGreedSentiment(index.url, 3600, 1).vote()
    assert vote.source == VoteSource.ABSTAIN and vote.confidence == 0.0
    assert reason in vote.rationale and "unavailable" in vote.rationale


def test_the_index_comes_back_after_a_failure(index):
    index.status = 500
    clock = Clock()
    agent = FearGreedSentiment(index.url, 3600, 1, monotonic=clock)
    assert agent.vote().source == VoteSource.ABSTAIN
    index.status = 200
    index.reading(80, "Extreme Greed")
    assert agent.vote().source == VoteSource.ABSTAIN  # not asked again at once
    clock.now += 300
    assert agent.vote().action == Action.SELL


def test_a_trickling_index_never_holds_the_vote_past_its_timeout(index):
    trickled = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "200")
            self.end_headers()
            for _ in range(20):  # one byte every 0.2 s: no single read times out
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
            trickled.set()

    slow = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    agent = FearGreedSentiment(f"http://127.0.0.1:{slow.server_address[1]}/", 3600, 0.5)
    vote = agent.vote()
    assert not trickled.is_set(), "the vote came before the trickle's 4 s were over"
    assert vote.source == VoteSource.ABSTAIN and "no answer" in vote.rationale
    slow.shutdown()


def test_the_hang_limit_allows_for_the_agents_that_wait_on_the_network(tmp_path):
    from config import load_config
    from engine.runtime.supervisor import agent_time_budget

    path = tmp_path / "net.toml"
    path.write_text(
        "[agents.weights]\ntechnical = 1.0\nsentiment = 0.5\nllm = 1.0\n"
        '[agents.sentiment]\nsource = "fear_greed"\ntimeout_seconds = 4\n'
        "[agents.llm]\ntimeout_seconds = 10\ntick_budget_seconds = 8\n"
    )
    # Every pair's LLM vote is asked at once, within one tick budget.
    assert agent_time_budget(load_config(path)) == 8 + 4
    assert agent_time_budget(load_config()) == 0.0
