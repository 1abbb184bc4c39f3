"""The kill switch flattens every position, halts, and the halt survives a supervisor restart."""

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config import load_config
from data.store.models import Position, Trade
from data.store.state import read_state
from tests.support.kill import (
    open_positions_count,
    open_positions_now,
    press_kill,
    read_state_halted,
)
from tests.support.supervised import RunningSupervisor


@pytest.fixture
def slow_config(tmp_path) -> Path:
    """Real-time-ish clock and a long hang limit: a frozen worker stays frozen for the test."""
    path = tmp_path / "slow.toml"
    path.write_text("[clock]\nspeed = 60.0\n[engine]\nhang_intervals = 100\n")
    return path


def test_kill_flattens_a_hung_worker_halts_and_the_halt_survives_a_restart(
    volt_home, slow_config, store
):
    factory = store[1]
    supervisor = RunningSupervisor(volt_home, slow_config, factory)
    try:
        hung = supervisor.wait_for_ticking_worker()
        os.kill(hung, signal.SIGSTOP)  # the kill switch must not need a live worker
        # The worker may have bought before it froze; top up so both pairs are held.
        with factory() as session:
            held = set(session.scalars(select(Position.pair)))
        open_positions_now(
            factory, slow_config, [p for p in ("BTC/USDT", "ETH/USDT") if p not in held]
        )
        positions = open_positions_count(factory)
        assert positions >= 2

        killed = supervisor.command("kill", timeout=60)
        assert killed.status == "done", killed.result
        assert killed.result.count("closed ") == positions
        assert "engine halted until re-armed" in killed.result
        assert open_positions_count(factory) == 0
        state = supervisor.state()
        assert state.halted and state.status == "halted" and state.worker_pid is None
        with factory() as session:
            killed_trades = session.scalar(
                select(func.count()).where(Trade.exit_reason == "kill_switch")
            )
        assert killed_trades == positions
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
    from data.store.commands import finish_command, submit_command
    from data.store.state import update_state
    from engine.runtime.supervisor import Supervisor

    factory = store[1]
    supervisor = Supervisor(load_config(), factory)
    update_state(factory, halted=True, halt_reason="kill switch (command #1)")
    kill = submit_command(factory, "kill")
    finish_command(factory, kill, False, "NOT CLOSED: BTC/USDT: exchange unavailable")
    ok, message = supervisor.rearm(kill + 1)
    assert not ok
    assert "did not close everything" in message and "BTC/USDT" in message
    assert read_state_halted(factory)

    again = submit_command(factory, "kill")
    finish_command(factory, again, True, "closed BTC/USDT; engine halted until re-armed")
    ok, message = supervisor.rearm(again + 1)
    assert ok and message == "re-armed: trading resumes"
    assert not read_state_halted(factory)


def test_rearm_is_refused_while_a_kill_is_unfinished(store):
    from data.store.commands import claim_next_command, submit_command
    from data.store.state import update_state
    from engine.runtime.supervisor import Supervisor

    factory = store[1]
    update_state(factory, halted=True, halt_reason="kill switch (command #1)")
    kill = submit_command(factory, "kill")
    claim_next_command(factory, frozenset({"kill"}), "supervisor")  # and then it died
    ok, message = Supervisor(load_config(), factory).rearm(kill + 1)
    assert not ok and "still running" in message
    assert read_state_halted(factory)


def test_kill_with_a_dead_worker_flattens_and_halts(kill_setup):
    supervisor, factory, _ = kill_setup
    killed = press_kill(supervisor, factory)
    assert killed.status == "done", killed.result
    assert "exited with code 0" in killed.result and killed.result.count("closed ") == 2
    assert open_positions_count(factory) == 0
    assert read_state(factory).halted


def test_kill_retries_when_the_broker_fails_the_first_two_closes(kill_setup):
    supervisor, factory, flaky = kill_setup
    flaky["failures"] = 2
    killed = press_kill(supervisor, factory)
    assert flaky["broker"].refused == ["BTC/USDT", "ETH/USDT"]
    assert killed.status == "done", killed.result
    assert killed.result.count("closed ") == 2 and "engine halted until re-armed" in killed.result
    assert open_positions_count(factory) == 0
    with factory() as session:
        assert session.scalars(select(Trade.exit_reason)).all() == ["kill_switch"] * 2


def test_a_retried_close_resends_under_the_same_client_order_id(kill_setup):
    supervisor, factory, flaky = kill_setup
    flaky["failures"] = 2
    assert press_kill(supervisor, factory).status == "done"
    sells = flaky["broker"].sells
    assert [pair for pair, _ in sells] == ["BTC/USDT", "ETH/USDT"] * 2
    for pair in ("BTC/USDT", "ETH/USDT"):
        ids = {cid for sold, cid in sells if sold == pair}
        assert len(ids) == 1, f"{pair} was resent under a new id: {sorted(ids)}"


def test_a_kill_that_cannot_close_reports_it_stays_halted_and_a_second_press_retries(
    kill_setup,
):
    from data.store.models import Event

    supervisor, factory, flaky = kill_setup
    flaky["pair"] = "BTC/USDT"
    first = press_kill(supervisor, factory)
    assert first.status == "failed"
    assert "NOT CLOSED after 3 attempts: BTC/USDT" in first.result
    assert "closed ETH/USDT" in first.result
    assert flaky["broker"].refused == ["BTC/USDT"] * 3
    state = read_state(factory)
    assert state.halted and "could not close: BTC/USDT" in state.halt_reason
    with factory() as session:
        errors = session.scalars(select(Event).where(Event.level == "ERROR")).all()
    assert any("NOT CLOSED" in e.message and "BTC/USDT" in e.message for e in errors)
    ok, refused = supervisor.rearm(0)
    assert not ok and "did not close everything" in refused

    flaky["pair"] = None  # the exchange is back
    second = press_kill(supervisor, factory)
    assert second.status == "done", second.result
    assert "already halted: retried what was left" in second.result
    assert second.result.count("closed ") == 1 and "closed BTC/USDT" in second.result
    assert open_positions_count(factory) == 0 and read_state(factory).halted


def test_nothing_opens_between_the_press_and_the_halt(tmp_path):
    from data.store.commands import submit_command
    from data.store.models import Decision
    from data.store.state import update_state
    from tests.support.scripted import scripted_trader

    closes = {"BTC/USDT": [100.0 + 0.01 * i for i in range(30)]}
    trader, clock = scripted_trader(tmp_path, closes, {"BTC/USDT": [0] * 16 + [1] * 14})
    for _ in range(16):
        trader.tick()
        clock.advance(300)
    submit_command(trader.factory, "kill")  # pressed; the supervisor has not taken it yet
    trader.tick()
    clock.advance(300)
    update_state(trader.factory, halted=True, halt_reason="kill switch (command #1)")
    trader.tick()
    with trader.factory() as session:
        outcomes = session.scalars(select(Decision.outcome).order_by(Decision.id)).all()[-2:]
        assert session.scalar(select(func.count()).select_from(Position)) == 0
    assert "kill_switch: the kill switch was pressed" in outcomes[0]
    assert "kill_switch: the engine is halted (kill switch (command #1))" in outcomes[1]
