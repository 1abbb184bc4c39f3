"""Learning reads each agent's last calls only, and judges them as over all history."""

import pytest

from data import queries
from data.stats.scorecard import agent_records, call_records
from data.store.agent_calls import recent_calls
from tests.support.configs import LEARN_FAST as LEARNING
from tests.support.runs import run_ticks


@pytest.mark.parametrize("batch", [1, 200])  # outcomes read one at a time, or all at once
@pytest.mark.parametrize("window", [2, 3, 50])  # the span resolves 3 to 4 calls each
def test_recent_calls_give_the_same_accuracy_as_all_history(
    trader_factory, store, tmp_path, window, batch
):
    config = tmp_path / "learn.toml"
    config.write_text(LEARNING)
    trader, clock = trader_factory(config)
    run_ticks(trader, clock, market_hours=12)
    engine = store[0]
    everything = agent_records(queries.resolved_votes(engine), window)
    calls = recent_calls(engine, sorted(trader.base_weights), window, batch=batch)
    recent = call_records(calls)
    called = {agent: r for agent, r in everything.items() if r.samples}
    assert called, "the span must resolve some calls"
    assert {a: (r.samples, r.correct) for a, r in called.items()} == {
        a: (r.samples, r.correct) for a, r in recent.items()
    }
