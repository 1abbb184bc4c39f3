"""The go-live gate's verdict on a config's latest held-out evidence: present, or weak with
every reason (missing, old, could be luck, overfit), and the same lines for terminal and page."""

from datetime import UTC, datetime, timedelta

from data.store.evidence import (
    MAX_EVIDENCE_AGE_DAYS,
    evidence_verdict,
    go_live_evidence,
    latest_evidence,
    record_evidence,
)
from tests.support.evidence import evidence_fields

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def made(days_ago: float, **overrides) -> dict:
    return evidence_fields(created_at=NOW - timedelta(days=days_ago), **overrides)


def test_missing_evidence_is_weak_and_says_how_to_get_some():
    verdict = evidence_verdict(None, NOW, "0123456789abcdef")
    assert (verdict.present, verdict.weak, verdict.state) == (False, True, "none")
    assert verdict.reasons == [
        "no held-out evidence for this config (run python -m engine optimize --config FILE)"
    ]
    assert verdict.lines()[0] == "Go-live evidence for strategy 0123456789abcdef: NONE"


def test_fresh_evidence_unlikely_to_be_luck_is_present_and_not_weak():
    verdict = evidence_verdict(made(2), NOW)
    assert (verdict.present, verdict.weak, verdict.state) == (True, False, "present")
    assert verdict.reasons == []
    assert verdict.age_days == 2


def test_evidence_older_than_thirty_days_is_weak():
    assert not evidence_verdict(made(MAX_EVIDENCE_AGE_DAYS - 0.1), NOW).weak
    verdict = evidence_verdict(made(45), NOW)
    assert verdict.state == "weak"
    assert verdict.reasons == ["the evidence is 45 days old (over 30)"]


def test_a_p_value_above_a_tenth_is_weak():
    assert not evidence_verdict(made(1, p_value=0.1), NOW).weak
    verdict = evidence_verdict(made(1, p_value=0.34), NOW)
    assert verdict.reasons == [
        "chance-baseline p-value 0.340 is above 0.1: the held-out result could be luck"
    ]


def test_no_p_value_is_weak():
    verdict = evidence_verdict(made(1, p_value=None, trades=0), NOW)
    assert verdict.reasons == [
        "no chance-baseline p-value (no held-out trades to judge)",
        "only 0 held-out trades (at least 10 wanted)",
    ]


def test_too_few_held_out_trades_are_weak():
    assert not evidence_verdict(made(1, trades=10), NOW).weak
    verdict = evidence_verdict(made(1, trades=3), NOW)
    assert verdict.reasons == ["only 3 held-out trades (at least 10 wanted)"]


def test_a_search_flagged_as_overfit_is_weak_and_named():
    verdict = evidence_verdict(made(1, overfit=True, overfit_value=0.42), NOW)
    assert verdict.reasons == ["the deflated Sharpe ratio (0.420) flags the search as overfit"]


def test_every_reason_is_given_at_once():
    verdict = evidence_verdict(made(40, p_value=0.5, overfit=True), NOW)
    assert len(verdict.reasons) == 3


def test_the_lines_give_the_held_out_result_against_buy_and_hold_and_its_age():
    lines = evidence_verdict(made(3.5, p_value=0.34), NOW).lines()
    assert lines == [
        "Go-live evidence for strategy 0123456789abcdef: WEAK",
        "Held out 2025-10-01 to 2025-12-31: return +4.25 % (Sharpe 1.10) vs buy-and-hold "
        "-3.10 % (Sharpe -0.40), 37 trades",
        "Chance baseline p-value: 0.340 (at most 0.1 wanted)",
        "Overfitting: deflated Sharpe ratio 0.970, not flagged",
        "Data span 2024-01-01 to 2025-12-31, 200 trials, from optimize run #3 (study eth): "
        "trial #41",
        "Made 2026-02-26 00:00 UTC, 3.5 days ago (at most 30 wanted)",
        "Weak: chance-baseline p-value 0.340 is above 0.1: the held-out result could be luck",
    ]


def test_the_latest_evidence_for_a_fingerprint_is_read_from_the_store(store):
    record_evidence(store[0], **made(10, p_value=0.5))
    newest = record_evidence(store[0], **made(1))
    record_evidence(store[0], **made(0, fingerprint="ffffffffffffffff"))
    latest = latest_evidence(store[0], "0123456789abcdef")
    assert latest["id"] == newest
    assert latest["created_at"] == NOW - timedelta(days=1)  # UTC, on SQLite too
    assert latest_evidence(store[1], "aaaaaaaaaaaaaaaa") is None


def test_the_gate_reads_the_latest_evidence_at_the_moment_it_is_asked(store):
    record_evidence(store[0], **made(1, p_value=0.5))
    assert go_live_evidence(store[1], "0123456789abcdef", NOW).weak
    record_evidence(store[0], **made(0))
    assert go_live_evidence(store[1], "0123456789abcdef", NOW).state == "present"


def test_one_trial_reads_as_one():
    lines = evidence_verdict(made(1, trials=1), NOW).lines()
    assert any(
        line.startswith("Data span 2024-01-01 to 2025-12-31, 1 trial, from") for line in lines
    )
