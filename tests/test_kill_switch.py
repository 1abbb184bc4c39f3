"""The kill switch flattens every position, halts, and the halt survives a supervisor restart."""

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config import load_config
from data.db import as_utc, transaction
from data.models import Position, Trade
from data.state import read_state
from engine.book import portfolio_view, record_entry
from engine.clock import FastForwardClock
from engine.execution import record_fill
from engine.wiring import build_trader
from risk import OrderIntent
from tests.test_supervisor import RunningSupervisor


def open_positions_count(factory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Position))


@pytest.fixture
def slow_config(tmp_path) -> Path:
    """Real-time-ish clock and a long hang limit: a frozen worker stays frozen for the test."""
    path = tmp_path / "slow.toml"
    path.write_text("[clock]\nspeed = 60.0\n[engine]\nhang_intervals = 100\n")
    return path


def open_positions_now(factory, config: Path, pairs: list[str]) -> None:
    """Open positions through the real risk gate and paper broker, at the engine's time."""
    settings = load_config(config)
    clock = FastForwardClock(as_utc(read_state(factory).market_time))
    trader = build_trader(settings, factory, clock)
    for pair in pairs:
        price = trader.current_price(pair, clock.now())
        intent = OrderIntent(pair, "buy", price, f"test-{pair}", "signal", atr=price * 0.01)
        with transaction(factory) as session:
            approved = trader.gate.approve(intent, portfolio_view(session, trader.broker, {}))
            order, fill = record_fill(
                session, trader.broker.submit(approved, clock.now()), "signal", None
            )
            record_entry(session, order, fill, approved.stop_loss, approved.take_profit)


def test_kill_flattens_a_hung_worker_halts_and_the_halt_survives_a_restart(
    volt_home, slow_config, store
):
    factory = store[1]
    supervisor = RunningSupervisor(volt_home, slow_config, factory)
    try:
        hung = supervisor.wait_for_ticking_worker()
        os.kill(hung, signal.SIGSTOP)  # the kill switch must not need a live worker
        open_positions_now(factory, slow_config, ["BTC/USDT", "ETH/USDT"])
        assert open_positions_count(factory) == 2

        killed = supervisor.command("kill", timeout=60)
        assert killed.status == "done", killed.result
        assert killed.result.count("closed ") == 2
        assert "engine halted until re-armed" in killed.result
        assert open_positions_count(factory) == 0
        state = supervisor.state()
        assert state.halted and state.status == "halted" and state.worker_pid is None
        with factory() as session:
            reasons = session.scalars(select(Trade.exit_reason)).all()
        assert reasons == ["kill_switch", "kill_switch"]
    finally:
        assert supervisor.stop() == 0

    restarted = RunningSupervisor(volt_home, slow_config, factory)
    try:
        refused = restarted.command("start")
        assert refused.status == "failed"
        assert "halted by the kill switch" in refused.result
        state = restarted.state()
        assert state.halted and state.worker_pid is None

        rearmed = restarted.command("rearm")
        assert rearmed.status == "done", rearmed.result
        restarted.wait_for_ticking_worker()
        assert not restarted.state().halted
    finally:
        assert restarted.stop() == 0


def test_pressing_kill_twice_is_harmless(volt_home, fast_config, store):
    supervisor = RunningSupervisor(volt_home, fast_config, store[1])
    try:
        supervisor.wait_for_ticking_worker()
        first = supervisor.command("kill", timeout=60)
        second = supervisor.command("kill", timeout=60)
        assert first.status == second.status == "done"
        assert "no worker was running" in second.result
        assert supervisor.state().halted
    finally:
        supervisor.stop()


def test_rearm_is_refused_while_the_last_flatten_failed(store):
    from config import load_config
    from data.commands import finish_command, submit_command
    from data.state import update_state
    from engine.supervisor import Supervisor

    factory = store[1]
    supervisor = Supervisor(load_config(), factory)
    update_state(factory, halted=True, halt_reason="kill switch (command #1)")
    kill = submit_command(factory, "kill")
    finish_command(factory, kill, False, "NOT CLOSED: BTC/USDT: exchange unavailable")
    ok, message = supervisor._command_rearm(kill + 1)
    assert not ok
    assert "did not close everything" in message and "BTC/USDT" in message
    assert read_state_halted(factory)

    again = submit_command(factory, "kill")
    finish_command(factory, again, True, "closed BTC/USDT; engine halted until re-armed")
    ok, message = supervisor._command_rearm(again + 1)
    assert ok and message == "re-armed: trading resumes"
    assert not read_state_halted(factory)


def test_rearm_is_refused_while_a_kill_is_unfinished(store):
    from config import load_config
    from data.commands import claim_next_command, submit_command
    from data.state import update_state
    from engine.supervisor import Supervisor

    factory = store[1]
    update_state(factory, halted=True, halt_reason="kill switch (command #1)")
    kill = submit_command(factory, "kill")
    claim_next_command(factory, frozenset({"kill"}), "supervisor")  # and then it died
    ok, message = Supervisor(load_config(), factory)._command_rearm(kill + 1)
    assert not ok and "still running" in message
    assert read_state_halted(factory)


def read_state_halted(factory) -> bool:
    from data.state import read_state

    return read_state(factory).halted
