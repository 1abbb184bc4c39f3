"""The kill switch flattens every position, halts, and the halt survives a supervisor restart."""

import pytest
from sqlalchemy import func, select

from data.models import Position, Trade
from tests.conftest import run_ticks
from tests.test_supervisor import RunningSupervisor


def open_positions_count(factory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Position))


@pytest.fixture
def book_with_positions(trader_factory, store, fast_config):
    """Trade in-process until at least two positions are open, as a worker would."""
    trader, clock = trader_factory(fast_config)
    for _ in range(200):
        run_ticks(trader, clock, market_hours=1)
        if open_positions_count(store[1]) >= 2:
            break
    assert open_positions_count(store[1]) >= 2, "the synthetic market opened too few positions"
    return trader


def test_kill_flattens_halts_and_the_halt_survives_a_restart(
    book_with_positions, volt_home, fast_config, store
):
    factory = store[1]
    before = open_positions_count(factory)
    supervisor = RunningSupervisor(volt_home, fast_config, factory)
    try:
        supervisor.wait_for_ticking_worker()
        killed = supervisor.command("kill", timeout=60)
        assert killed.status == "done", killed.result
        assert "engine halted until re-armed" in killed.result
        assert killed.result.count("closed ") >= 1
        assert open_positions_count(factory) == 0
        state = supervisor.state()
        assert state.halted and state.status == "halted" and state.worker_pid is None
        with factory() as session:
            kill_exits = session.scalar(
                select(func.count(Trade.id)).where(Trade.exit_reason == "kill_switch")
            )
        assert kill_exits >= 1
        assert before >= 2
    finally:
        assert supervisor.stop() == 0

    restarted = RunningSupervisor(volt_home, fast_config, factory)
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


def read_state_halted(factory) -> bool:
    from data.state import read_state

    return read_state(factory).halted
