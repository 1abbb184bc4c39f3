"""The decision view's reads: the consensus arithmetic redone from stored votes equals what
the engine decided, and the risk verdict says what the engine stored."""

import random

import pandas as pd
import pytest

from agents import weigh_votes
from data import queries
from data.queries.decisions import consensus_tally
from data.store.models import Decision
from data.types import Action, Vote, VoteSource
from tests.support.decisions import LLM_DATA, LONG_RATIONALE, SCORE, store_decision
from tests.support.runs import run_ticks


def test_the_tally_of_every_stored_decision_equals_the_engines_score_and_action(
    trader_factory, store
):
    trader, clock = trader_factory()
    run_ticks(trader, clock, market_hours=6)
    with store[1]() as session:
        decided = [(d.id, d.score, d.action) for d in session.query(Decision)]
    assert {action for _, _, action in decided} >= {"HOLD"} and len(decided) > 50
    for decision_id, score, action in decided:
        detail = queries.decision_detail(store[0], decision_id)
        tally = detail["tally"]
        assert round(tally["score"], 6) == pytest.approx(score, abs=1e-9), decision_id
        assert tally["action"] == action, decision_id


@pytest.mark.parametrize("seed", range(20))
def test_the_tally_equals_weigh_votes_term_by_term(seed):
    rng = random.Random(seed)
    votes = [
        Vote(
            f"agent{i}",
            rng.choice(list(Action)),
            round(rng.random(), 3),
            "r",
            rng.choice([VoteSource.RULE, VoteSource.RULE, VoteSource.ABSTAIN]),
        )
        for i in range(4)
    ]
    weights = {f"agent{i}": rng.choice([0.0, 0.5, 1.0, 1.5]) for i in range(4)}
    threshold = rng.choice([0.2, 0.4, 0.55])
    consensus = weigh_votes(votes, weights, threshold)
    stored = pd.DataFrame(
        {
            "agent": [v.agent for v in votes],
            "action": [v.action.value for v in votes],
            "confidence": [v.confidence for v in votes],
            "weight": [consensus.weights[v.agent] for v in votes],
            "source": [v.source.value for v in votes],
        }
    )
    tally = consensus_tally(stored, threshold)
    assert round(tally["score"], 6) == consensus.score
    assert tally["action"] == consensus.action.value


def test_a_seeded_decision_reads_back_with_every_vote_its_data_and_the_arithmetic(store):
    decision_id = store_decision(store[1])
    detail = queries.decision_detail(store[0], decision_id)
    votes = detail["votes"].set_index("agent")
    assert votes.loc["technical", "rationale"] == LONG_RATIONALE
    assert votes.loc["llm", "data"] == LLM_DATA
    tally = detail["tally"]
    assert tally["weighted_sum"] == pytest.approx(-0.755)
    assert tally["total_weight"] == pytest.approx(2.5)
    assert tally["score"] == pytest.approx(SCORE) and tally["action"] == "HOLD"
    assert tally["why"] == "score -0.3020 stayed inside ±0.55: HOLD"
    counted = tally["terms"].set_index("agent")["counted"].to_dict()
    assert counted == {"technical": True, "regime": True, "sentiment": False, "llm": True}
    assert detail["verdict"] == ("Not asked", "the consensus held: no order for risk to judge")


def test_an_entry_risk_refused_reads_as_rejected_with_the_reason(store):
    reason = "daily loss limit: equity fell 3.10% today (limit 3.00%)"
    decision_id = store_decision(
        store[1], action="BUY", outcome=f"rejected by risk: {reason}", refusal=reason
    )
    assert queries.decision_detail(store[0], decision_id)["verdict"] == (
        "Rejected by risk",
        reason,
    )


def test_an_entry_risk_approved_reads_as_approved_with_the_fill(store):
    filled = "bought 0.01 at 64123.5 (fee 0.6412)"
    decision_id = store_decision(store[1], action="BUY", outcome=filled, order=True)
    assert queries.decision_detail(store[0], decision_id)["verdict"] == ("Approved by risk", filled)


def test_an_entry_paused_reads_as_not_asked_with_why(store):
    decision_id = store_decision(store[1], action="BUY", outcome="entries paused")
    verdict = queries.decision_detail(store[0], decision_id)["verdict"]
    assert verdict == ("Not asked", "no order was sent: entries paused")


def test_the_decision_list_has_one_row_per_decision_with_each_agents_vote(store):
    older = store_decision(store[1], minute=0)
    newer = store_decision(store[1], minute=5, action="BUY", outcome="entries paused")
    listed = queries.decision_list(store[0], pair="BTC/USDT")
    assert list(listed["decision_id"]) == [newer, older]
    first = listed.iloc[0]
    assert (first["technical vote"], first["sentiment vote"], first["llm vote"]) == (
        "SELL 0.48",
        "abstain",
        "SELL 0.55",
    )
    only_llm = queries.decision_list(store[0], agent="llm", action="BUY")
    assert list(only_llm["decision_id"]) == [newer]
    assert only_llm.iloc[0]["rationale"] == "RSI 71 is stretched."


def test_an_unknown_decision_reads_as_none(store):
    assert queries.decision_detail(store[0], 404) is None
