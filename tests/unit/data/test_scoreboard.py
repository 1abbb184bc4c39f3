"""The Agents page's leaderboard, worked out by the database, says what the journal's
scorecard (`data.stats.scorecard.agent_records` over every resolved vote) says."""

import pytest
from pytest import approx
from sqlalchemy import update

from bench.seed_dashboard import seed
from data import queries
from data.stats.scorecard import agent_records
from data.store.models import VoteRow


def _same_records(engine, window: int) -> None:
    expected = agent_records(queries.resolved_votes(engine), window)
    board = queries.agent_scoreboard(engine, window)
    assert sorted(board) == sorted(expected)
    for agent, record in expected.items():
        got = board[agent]
        assert (got.samples, got.correct) == (record.samples, record.correct), agent
        assert got.pnl_contribution == approx(record.pnl_contribution, abs=1e-6), agent


@pytest.mark.parametrize("window", [3, 1000])
def test_the_board_equals_the_scorecard_over_every_resolved_vote(store, window):
    engine, _ = store
    seed(engine, scale=0.002)
    _same_records(engine, window)


def test_abstentions_and_weightless_votes_take_no_share_of_the_pnl(store):
    engine, _ = store
    seed(engine, scale=0.002)
    with engine.begin() as conn:
        conn.execute(update(VoteRow).where(VoteRow.agent == "regime").values(weight=0.0))
    board = queries.agent_scoreboard(engine, 50)
    assert board["regime"].pnl_contribution == 0.0
    assert board["llm"].samples > 0  # abstentions are skipped, its answers still count
    _same_records(engine, 50)


def test_no_resolved_decision_no_board(store):
    engine, _ = store
    assert queries.agent_scoreboard(engine, 50) == {}
