"""A backtest replays the LLM's stored replies only from the model and prompt version in use,
and its note counts the votes and the abstentions apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from agents.llm.prompt import PROMPT_VERSION
from config import load_config
from data.store.db import transaction
from data.store.models import Decision, VoteRow
from engine.backtest import run_backtest
from engine.backtest.candles import synthetic_market

START = datetime(2026, 2, 1, tzinfo=UTC)


def llm_settings(tmp_path):
    config = tmp_path / "llm.toml"
    config.write_text('[agents.weights]\nllm = 1.0\n[agents.llm]\nmodel = "qwen3:8b"\n')
    return load_config(config)


def store_replies(factory, market, replies: list[tuple[str, str, dict]]) -> None:
    """One stored LLM reply per candle from the first: (action, source, data)."""
    with transaction(factory) as session:
        for i, (action, source, data) in enumerate(replies):
            candle = market.index[market.first + i].to_pydatetime()
            decision = Decision(
                ts=START, pair="BTC/USDT", candle_ts=candle, price=1.0, action="HOLD",
                score=0.0, threshold=0.55,
            )  # fmt: skip
            session.add(decision)
            session.flush()
            session.add(
                VoteRow(
                    decision_id=decision.id,
                    agent="llm",
                    action=action,
                    weight=1.0,
                    confidence=0.0 if source == "abstain" else 0.8,
                    source=source,
                    rationale="stored",
                    data=data,
                )  # fmt: skip
            )


def test_votes_and_abstentions_are_counted_apart(store, tmp_path):
    settings = llm_settings(tmp_path)
    market = synthetic_market(1, ["BTC/USDT"], "5m", START, START + timedelta(hours=6), 300)
    same = {"model": "qwen3:8b", "prompt_version": PROMPT_VERSION}
    store_replies(
        store[1],
        market,
        [("BUY", "llm", same)] + [("HOLD", "abstain", same | {"error": "late"})] * 21,
    )
    result = run_backtest(settings, market, store=store[0])
    assert result.llm_note == "LLM: replayed 1 stored vote and 21 stored abstentions"


def test_stored_abstentions_alone_are_not_told_as_replayed_votes(store, tmp_path):
    settings = llm_settings(tmp_path)
    market = synthetic_market(1, ["BTC/USDT"], "5m", START, START + timedelta(hours=6), 300)
    same = {"model": "qwen3:8b", "prompt_version": PROMPT_VERSION}
    store_replies(store[1], market, [("HOLD", "abstain", same)] * 21)
    result = run_backtest(settings, market, store=store[0])
    assert result.llm_note == "LLM: replayed 21 stored abstentions"
    assert np.isnan(result.signals["BTC/USDT"].votes["llm"][market.first : market.first + 21]).all()


def test_replies_from_another_model_or_prompt_version_are_not_replayed(store, tmp_path):
    settings = llm_settings(tmp_path)
    market = synthetic_market(1, ["BTC/USDT"], "5m", START, START + timedelta(hours=6), 300)
    store_replies(
        store[1],
        market,
        [
            ("BUY", "llm", {"model": "qwen3:8b", "prompt_version": PROMPT_VERSION}),
            ("BUY", "llm", {"model": "llama3.2:3b", "prompt_version": PROMPT_VERSION}),
            ("BUY", "llm", {"model": "qwen3:8b", "prompt_version": PROMPT_VERSION - 1}),
            ("BUY", "llm", {"model": "qwen3:8b"}),  # stored before prompt versions were
        ],
    )
    result = run_backtest(settings, market, store=store[0])
    assert result.llm_note == (
        "LLM: replayed 1 stored vote; 3 replies from another model or prompt version not replayed"
    )
    llm = result.signals["BTC/USDT"].votes["llm"]
    assert llm[market.first] > 0 and np.isnan(llm[market.first + 1 : market.first + 4]).all()
