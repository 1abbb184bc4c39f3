"""What the model is told: the system prompt and the brief as one compact user message."""

from __future__ import annotations

import math
from datetime import datetime

from agents.base import MarketBrief
from agents.llm.text import shorten

RECENT_OUTCOMES_SHOWN = 10
# Stored with every vote; a backtest replays only replies to the same prompt. Raise it
# whenever the system prompt or the brief's wording changes.
PROMPT_VERSION = 2

SYSTEM_PROMPT = (
    "You are a cautious spot crypto trader voting on one pair for a long-only book. "
    "BUY opens a position when none is open (with one open, BUY means the same as HOLD: "
    "the book never adds to a position); SELL closes the open position (with no position, "
    "SELL means the same as HOLD); HOLD does nothing. Prefer HOLD when the signals "
    "disagree or are weak. Give a confidence from 0 to 1 and a rationale of one or two "
    "plain sentences naming the numbers that decided it. Answer only with a JSON object "
    'with the keys "action", "confidence" and "rationale".'
)


def render_brief(brief: MarketBrief) -> str:
    """The user message: the brief, compact, numbers rounded."""
    indicators = ", ".join(f"{name} {_num(value)}" for name, value in brief.indicators.items())
    candle_time = (
        brief.candle_time.strftime("%Y-%m-%d %H:%M UTC")
        if isinstance(brief.candle_time, datetime)
        else str(brief.candle_time)
    )
    lines = [
        f"Pair: {brief.pair}",
        f"Candle: {candle_time}",
        f"Price: {_num(brief.price)}",
        f"Regime: {brief.regime}",
        f"Indicators: {indicators or 'none'}",
        f"Open position: {_render_position(brief.position)}",
    ]
    # The brief lists the journal's outcomes newest first (Team.market_brief).
    outcomes = [shorten(str(o), 80) for o in list(brief.recent_outcomes)[:RECENT_OUTCOMES_SHOWN]]
    lines.append("Recent outcomes (newest first): " + ("; ".join(outcomes) or "none"))
    lines.append("Vote BUY, SELL or HOLD.")
    return "\n".join(lines)


def chat_messages(brief: MarketBrief) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": render_brief(brief)},
    ]


def _render_position(position: dict[str, float] | None) -> str:
    if not position:
        return "none (flat)"
    parts = [
        f"entry {_num(position.get('entry_price'))}",
        f"amount {_num(position.get('amount'))}",
        f"stop loss {_num(position.get('stop_loss'))}",
        f"take profit {_num(position.get('take_profit'))}",
    ]
    unrealised = position.get("unrealised_pct")
    if unrealised is not None and math.isfinite(unrealised):
        parts.append(f"unrealised {unrealised:+.2f}%")
    return ", ".join(parts)


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"
