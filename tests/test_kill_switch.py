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
