"""A model that answers in 16 s never holds up what protects money: a stop met is sent in
the candle it was hit, a pause is done while the votes are still awaited, and an ordered
stop ends the worker in time (no SIGKILL) with its open orders cancelled. Against a fake
Ollama on loopback whose every reply takes 16 s."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from agents.llm import LlmAgent, LlmSettings
from data.store.commands import get_command, submit_command
from data.store.models import Position, Trade
from tests.support.fake_ollama import FakeOllama, slow
from tests.support.runs import run_engine, sqlite_only, wait_for
from tests.support.scripted import scripted_settings, scripted_trader
from tests.support.supervised import RunningSupervisor

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
REPLY_SECONDS = 16.0
MODEL = "llama3.2"


@pytest.fixture
def slow_ollama():
    with FakeOllama(models=[f"{MODEL}:latest"]) as fake:
        fake.script(*[slow(REPLY_SECONDS)] * 60)
        yield fake


def chats_pending(fake: FakeOllama, at_least: int):
    return len(fake.chat_requests()) >= at_least and fake.chat_replies_sent() == 0


def test_a_stop_met_is_sent_in_its_candle_while_the_llm_is_still_being_asked(tmp_path, slow_ollama):
    rising = [100 + 0.2 * i for i in range(25)]
    closes = {"BTC/USDT": rising + [80.0] * 10} | {p: [50.0] * 35 for p in PAIRS[1:]}
    script = {"BTC/USDT": [0] * 18 + [1]} | {p: [0] * 35 for p in PAIRS[1:]}
    trader, clock = scripted_trader(tmp_path, closes, script, scripted_settings())
    for _ in range(25):  # BTC bought and held; the stop is met on the next candle
        trader.tick()
        clock.advance(300)
    with trader.factory() as session:
        assert session.get(Position, "BTC/USDT") is not None
    settings = LlmSettings(host=slow_ollama.host, model=MODEL, tick_budget_seconds=20)
    trader.team.live_agents.append(LlmAgent(settings))
    stop = threading.Event()
    trader.while_agents_wait(stop, lambda: None)
    crash_candle_time = clock.now()

    tick = threading.Thread(target=trader.tick)
    tick.start()
    try:
        wait_for(lambda: chats_pending(slow_ollama, 3), 10, "the three pairs' chat requests")
        with trader.factory() as session:
            exits = session.scalars(select(Trade)).all()
        assert [(t.pair, t.exit_reason) for t in exits] == [("BTC/USDT", "stop_loss")]
        assert exits[0].exit_ts.replace(tzinfo=None) == crash_candle_time.replace(tzinfo=None)
        assert slow_ollama.chat_replies_sent() == 0, "the exit came before any reply"
    finally:
        stop.set()  # the worker's stop: the tick stops waiting at once
        tick.join(timeout=10)
    assert not tick.is_alive()


SLOW_LLM_CONFIG = """
[market]
pairs = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
history_candles = 240
[clock]
speed = 3000.0
[engine]
tick_seconds = 60.0
shutdown_timeout_seconds = 15.0
[agents.weights]
llm = 0.5
[agents.llm]
host = "{host}"
model = "{model}"
timeout_seconds = 20.0
tick_budget_seconds = 20.0
"""


def test_a_pause_and_an_ordered_stop_never_wait_for_a_16s_model(
    volt_home, store, tmp_path, slow_ollama
):
    sqlite_only(store)  # whole processes: the same on either store, and slow
    config = tmp_path / "slow_llm.toml"
    config.write_text(SLOW_LLM_CONFIG.format(host=slow_ollama.host, model=MODEL))
    supervisor = RunningSupervisor(volt_home, config, store[1])
    try:
        wait_for(lambda: chats_pending(slow_ollama, 3), 60, "the worker to ask the LLM")
        asked = len(slow_ollama.chat_requests())
        pause = submit_command(store[1], "pause")
        done = wait_for(
            lambda: get_command(store[1], pause).status == "done", 10, "the pause to be done"
        )
        assert done and slow_ollama.chat_replies_sent() == 0, "done before any reply came"
        assert len(slow_ollama.chat_requests()) == asked, "while the same requests waited"
        assert supervisor.state().entries_paused

        stopped = run_engine("stop", "--timeout", "30", VOLT_HOME=str(volt_home))
        assert slow_ollama.chat_replies_sent() == 0, "stopped before any reply came"
    finally:
        supervisor.stop()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "VOLT stopped: no new orders, open orders cancelled" in stopped.stdout
    supervisor_log = (volt_home / "logs" / "supervisor.log").read_text()
    assert "killing it" not in supervisor_log, "stopped within shutdown_timeout_seconds"
    worker_log = (volt_home / "logs" / "worker.log").read_text()
    assert "shutdown: cancelled" in worker_log and "worker stopped" in worker_log
