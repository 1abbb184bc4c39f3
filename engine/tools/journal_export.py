"""`python -m engine journal --out DIR`: one Markdown note per trade, for an Obsidian vault.

The front matter is YAML written as JSON scalars and flow mappings (JSON is YAML 1.2), so
no value can break it. Notes are rewritten only when their content changes: running the
export twice changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.store.db import as_utc
from data.store.models import Decision, JournalEntry


def note_name(entry: JournalEntry) -> str:
    day = as_utc(entry.entry_ts).strftime("%Y-%m-%d")
    return f"{day} {entry.pair.replace('/', '')} trade {entry.decision_id:06d}.md"


def render_note(entry: JournalEntry, decision: Decision, quote: str) -> str:
    votes = sorted(decision.votes, key=lambda v: v.agent)
    entry_ts = as_utc(entry.entry_ts)
    exit_ts = as_utc(entry.exit_ts)
    fields = {
        "pair": entry.pair,
        "action": entry.action,
        "decision": entry.decision_id,
        "entry_time": entry_ts.isoformat(),
        "entry": round(entry.entry_price, 8),
        "amount": round(entry.amount, 8),
        "exit_time": exit_ts.isoformat() if exit_ts else None,
        "exit": round(entry.exit_price, 8) if entry.exit_price is not None else None,
        "exit_reason": entry.exit_reason or None,
        "confidence": round(entry.confidence, 4),
        "threshold": round(decision.threshold, 4),
        "regime": decision.regime,
        "outcome": entry.outcome,
        "pnl": round(entry.pnl, 2) if entry.pnl is not None else None,
        "pnl_pct": round(entry.pnl_pct, 6) if entry.pnl_pct is not None else None,
        "currency": quote,
        "duration_hours": round(entry.duration_s / 3600, 2) if entry.duration_s else None,
        "tags": ["volt", "trade", entry.outcome.lower()],
    }
    lines = ["---"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in fields.items()]
    lines.append("votes:")
    for vote in votes:
        summary = {
            "agent": vote.agent,
            "action": vote.action,
            "confidence": round(vote.confidence, 4),
            "weight": round(vote.weight, 4),
            "source": vote.source,
        }
        lines.append(f"  - {json.dumps(summary)}")
    lines.append("---")
    pnl = f"{entry.pnl:+,.2f} {quote}" if entry.pnl is not None else "open"
    lines += [
        "",
        f"# {entry.pair} {entry.action} → {entry.outcome} ({pnl})",
        "",
        f"Entered {entry.amount:.8g} at {entry.entry_price:,.6g} on {entry_ts:%Y-%m-%d %H:%M} UTC"
        + (
            f"; out at {entry.exit_price:,.6g} on {exit_ts:%Y-%m-%d %H:%M} UTC "
            f"({entry.exit_reason})."
            if exit_ts
            else "; still being followed."
        ),
        "",
        f"Score {decision.score:+.2f} against a threshold of {decision.threshold:.2f} "
        f"in a {decision.regime or 'normal'} market.",
        "",
        "## The team's votes",
        "",
        "| agent | vote | confidence | weight | source | rationale |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for vote in votes:
        rationale = " ".join(vote.rationale.split()).replace("|", "\\|")
        lines.append(
            f"| {vote.agent} | {vote.action} | {vote.confidence:.2f} | {vote.weight:.2f} "
            f"| {vote.source} | {rationale} |"
        )
    if decision.audit:
        lines += ["", "## Auditor", "", decision.audit]
    return "\n".join(lines) + "\n"


def export_journal(engine: Engine, out_dir: Path, quote: str) -> tuple[int, int]:
    """Write a note per trade into `out_dir`; returns (written, unchanged)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = unchanged = 0
    with Session(engine) as session:
        entries = session.scalars(
            select(JournalEntry).where(JournalEntry.action == "BUY").order_by(JournalEntry.id)
        )
        for entry in entries:
            text = render_note(entry, session.get(Decision, entry.decision_id), quote)
            path = out_dir / note_name(entry)
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                unchanged += 1
                continue
            tmp = path.with_suffix(".md.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)  # a reader never sees half a note
            written += 1
    return written, unchanged
