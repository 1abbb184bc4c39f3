"""Held-out evidence rows as a search would file them, for the go-live gate's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config import Settings
from config.fingerprint import strategy_fingerprint
from data.store.evidence import record_evidence

HELD_OUT_START = datetime(2025, 10, 1, tzinfo=UTC)


def evidence_fields(**overrides) -> dict:
    """A good result: beat buy-and-hold out of sample, unlikely to be luck, not overfit."""
    fields = {
        "fingerprint": "0123456789abcdef",
        "source": "optimize run #3 (study eth): trial #41",
        "span_start": datetime(2024, 1, 1, tzinfo=UTC),
        "span_end": datetime(2025, 12, 31, tzinfo=UTC),
        "held_out_start": HELD_OUT_START,
        "held_out_end": datetime(2025, 12, 31, tzinfo=UTC),
        "return_pct": 4.25,
        "sharpe": 1.1,
        "buy_and_hold_pct": -3.1,
        "buy_and_hold_sharpe": -0.4,
        "trades": 37,
        "p_value": 0.03,
        "overfit_name": "deflated Sharpe ratio",
        "overfit_value": 0.97,
        "overfit": False,
        "trials": 200,
    }
    return fields | overrides


def file_evidence(store, settings: Settings, days_old: float = 1.0, **overrides) -> int:
    """Evidence for `settings`' strategy, made `days_old` days ago."""
    made = datetime.now(UTC) - timedelta(days=days_old)
    fields = evidence_fields(fingerprint=strategy_fingerprint(settings), created_at=made)
    return record_evidence(store, **(fields | overrides))
