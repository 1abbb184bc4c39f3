"""The LLM's brief lists the journal's resolved outcomes newest first, and the prompt says so:
the model is never told the oldest outcome is the latest."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import select

from agents import RegimeLimits
from agents.llm import render_brief
from data.store.db import transaction
from data.store.models import JournalEntry, Order
from engine.trading.decide import Team
from tests.support.decisions import START, store_decision

OUTCOMES = [("WIN", 0.012), ("LOSS", -0.008), ("WIN", 0.021)]  # oldest first


def resolve_in_order(factory) -> None:
    for minute, (outcome, pnl_pct) in enumerate(OUTCOMES):
        decision_id = store_decision(factory, minute=minute * 5, action="BUY", order=True)
        with transaction(factory) as session:
            order = session.scalars(select(Order).where(Order.decision_id == decision_id)).one()
            session.add(
                JournalEntry(
                    decision_id=decision_id,
                    pair="BTC/USDT",
                    action="BUY",
                    confidence=0.6,
                    entry_ts=START + timedelta(minutes=minute * 5),
                    entry_price=100.0,
                    amount=1.0,
                    order_id=order.id,
                    outcome=outcome,
                    exit_ts=START + timedelta(minutes=minute * 5 + 60),
                    pnl_pct=pnl_pct,
                )
            )


def test_the_brief_and_the_prompt_give_recent_outcomes_newest_first(store):
    resolve_in_order(store[1])
    team = Team(store[1], [], [], {}, {"normal": 0.5}, RegimeLimits())
    columns = {"close": np.array([100.0]), "rsi": np.array([40.0])}
    brief = team.market_brief("BTC/USDT", columns, START, "normal", None)
    assert brief.recent_outcomes == [
        "BTC/USDT BUY -> WIN +2.1%",
        "BTC/USDT BUY -> LOSS -0.8%",
        "BTC/USDT BUY -> WIN +1.2%",
    ]
    assert (
        "Recent outcomes (newest first): BTC/USDT BUY -> WIN +2.1%; "
        "BTC/USDT BUY -> LOSS -0.8%; BTC/USDT BUY -> WIN +1.2%"
    ) in render_brief(brief)
