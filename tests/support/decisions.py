"""Stored decisions with known votes, for the decision view and its queries.

decision_id = store_decision(factory, LONG_RATIONALE_VOTES, score=..., action="HOLD")
"""

from __future__ import annotations

from datetime import timedelta

from data.store.db import transaction
from data.store.models import Decision, Order, Rejection, VoteRow
from tests.support.runs import START

SYSTEM = "You are a cautious spot crypto trader voting on one pair for a long-only book."
USER = "Pair: BTC/USDT\nCandle: 2026-03-01 12:05 UTC\nPrice: 64123.5\nVote BUY, SELL or HOLD."
RAW = '{"action": "SELL", "confidence": 0.55, "rationale": "RSI 71 is stretched."}'

# A rationale far longer than a table cell: the view must show all of it.
LONG_RATIONALE = (
    "RSI(14) 71.3 (overbought); price above the upper of the 20-candle Bollinger bands "
    "(%B 1.12); MACD(12,26,9) momentum falling (histogram -3.217, ATR(14) 412.5); the "
    "last three candles closed lower on rising volume while the bands widened, so the "
    "stretch above the mean is more likely to revert than to run; score -0.48; this tail "
    "end is here to be found only when nothing cuts the text: END-OF-RATIONALE"
)

LLM_DATA = {
    "model": "llama3.2",
    "latency_ms": 1834.0,
    "raw_reply": RAW,
    "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
    "prompt_eval_count": 212,
    "eval_count": 38,
    "total_duration_ms": 1840.0,
    "load_duration_ms": 21.0,
    "prompt_eval_duration_ms": 410.0,
    "eval_duration_ms": 1390.0,
}

# technical SELL 0.48 x 1.0, regime HOLD 0.3 x 1.0, llm SELL 0.55 x 0.5, sentiment abstained:
# (-0.48 + 0 - 0.275) / 2.5 = -0.302, inside the 0.55 threshold: HOLD.
VOTES = [
    {
        "agent": "technical",
        "action": "SELL",
        "confidence": 0.48,
        "weight": 1.0,
        "source": "rule",
        "rationale": LONG_RATIONALE,
        "data": {"score": -0.48, "rsi": 71.3, "bb_pct": 1.12, "macd_hist": -3.217, "atr": 412.5},
    },
    {
        "agent": "regime",
        "action": "HOLD",
        "confidence": 0.3,
        "weight": 1.0,
        "source": "rule",
        "rationale": "normal regime: range (EMA50 and EMA200 +0.4 ATR apart)",
        "data": {"trend_strength": 0.4, "vol_ratio": 1.1, "drop": -0.01, "regime_code": 0.0},
    },
    {
        "agent": "sentiment",
        "action": "HOLD",
        "confidence": 0.0,
        "weight": 0.0,
        "source": "abstain",
        "rationale": "not enough candles yet (40) for the indicators to warm up",
        "data": {},
    },
    {
        "agent": "llm",
        "action": "SELL",
        "confidence": 0.55,
        "weight": 0.5,
        "source": "llm",
        "rationale": "RSI 71 is stretched.",
        "data": LLM_DATA,
    },
]
SCORE = round((-0.48 - 0.275) / 2.5, 6)


def store_decision(
    factory,
    votes: list[dict] = VOTES,
    *,
    minute: int = 0,
    action: str = "HOLD",
    score: float = SCORE,
    threshold: float = 0.55,
    outcome: str = "hold",
    refusal: str | None = None,
    order: bool = False,
) -> int:
    """One decision on BTC/USDT at START + `minute` with `votes`; a `refusal` is stored as
    risk's rejection row; `order` adds the order it sent."""
    when = START + timedelta(minutes=minute)
    with transaction(factory) as session:
        decision = Decision(
            ts=when,
            pair="BTC/USDT",
            candle_ts=when,
            price=64123.5,
            action=action,
            score=score,
            threshold=threshold,
            regime="normal",
            executed=order,
            outcome=outcome,
        )
        session.add(decision)
        session.flush()
        for vote in votes:
            session.add(VoteRow(decision_id=decision.id, **vote))
        if refusal:
            session.add(
                Rejection(
                    ts=when,
                    pair="BTC/USDT",
                    side="buy",
                    source="risk",
                    reason=refusal,
                    decision_id=decision.id,
                )
            )
        if order:
            session.add(
                Order(
                    client_order_id=f"t-{decision.id}",
                    decision_id=decision.id,
                    ts=when,
                    pair="BTC/USDT",
                    side="buy",
                    amount=0.01,
                    price=64123.5,
                    status="filled",
                )
            )
        return decision.id
