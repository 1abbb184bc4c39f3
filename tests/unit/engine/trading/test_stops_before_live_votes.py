"""A stop met is sent before the live agents (the LLM) are asked: an exit never waits on a
model, and the pair's decision is then made on the book without the position."""

from __future__ import annotations

from sqlalchemy import select

from data.store.models import Position, Trade
from data.types import Action, Vote, VoteSource
from tests.support.scripted import scripted_settings, scripted_trader

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


class StopWatcher:
    """A live agent that notes, each time it is asked, whether the stop exit is booked."""

    name = "watcher"

    def __init__(self, factory) -> None:
        self.factory = factory
        self.asked: list[tuple[str, bool, bool]] = []  # (pair, exit booked, brief has position)

    def vote(self, brief) -> Vote:
        with self.factory() as session:
            exited = session.scalars(select(Trade).where(Trade.exit_reason == "stop_loss")).all()
        self.asked.append((brief.pair, bool(exited), brief.position is not None))
        return Vote(self.name, Action.HOLD, 0.0, "abstains", VoteSource.ABSTAIN, {})


def test_a_stop_met_is_booked_before_any_live_agent_is_asked_on_that_candle(tmp_path):
    rising = [100 + 0.2 * i for i in range(25)]
    closes = {"BTC/USDT": rising + [80.0] * 10} | {p: [50.0] * 35 for p in PAIRS[1:]}
    script = {"BTC/USDT": [0] * 18 + [1]} | {p: [0] * 35 for p in PAIRS[1:]}
    trader, clock = scripted_trader(tmp_path, closes, script, scripted_settings())
    for _ in range(21):
        trader.tick()
        clock.advance(300)
    with trader.factory() as session:
        assert session.get(Position, "BTC/USDT") is not None
    watcher = StopWatcher(trader.factory)
    trader.team.live_agents.append(watcher)

    for _ in range(10):
        asked_before = len(watcher.asked)
        trader.tick()
        clock.advance(300)
        with trader.factory() as session:
            if session.get(Position, "BTC/USDT") is None:
                break
    else:
        raise AssertionError("the stop was never met")

    crash_tick = watcher.asked[asked_before:]
    assert [pair for pair, _, _ in crash_tick] == list(PAIRS)
    assert all(exited for _, exited, _ in crash_tick), "every vote came after the exit"
    assert not any(held for _, _, held in crash_tick), "the brief knows the position is gone"
