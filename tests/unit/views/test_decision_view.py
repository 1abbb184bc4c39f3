"""The decision view on the Market and Agents pages: one decision in full, the newest until
the trader picks another."""

import json

import pytest

from data.store.db import transaction
from data.store.models import ProtectionLock
from tests.support.decisions import LONG_RATIONALE, RAW, SYSTEM, USER, store_decision
from tests.support.pages import open_page
from tests.support.runs import START
from views import ui

ARITHMETIC = (
    "score = (-0.4800 +0.0000 -0.2750) / (1.000 + 1.000 + 0.500) = -0.7550 / 2.500 = "
    "**-0.3020**; score -0.3020 stayed inside ±0.55: HOLD (threshold of the normal regime)."
)


def texts(app) -> list[str]:
    return [m.value for m in app.markdown]


@pytest.fixture
def seeded(volt_home, store) -> int:
    return store_decision(store[1])


@pytest.mark.parametrize("page", ["views/market.py", "views/agents.py"])
def test_the_newest_decision_shows_every_vote_with_its_whole_rationale(seeded, page):
    app = open_page(page)
    assert len(LONG_RATIONALE) > 300
    assert LONG_RATIONALE in texts(app)  # whole, in its own paragraph
    headers = [t for t in texts(app) if " at confidence " in t]
    assert [h.split("**")[1] for h in headers] == ["technical", "regime", "sentiment", "llm"]


def test_the_votes_numbers_are_shown_as_a_table(seeded):
    app = open_page("views/market.py")
    numbers = [t.value for t in app.table if "rsi" in t.value.columns]
    assert len(numbers) == 1
    assert numbers[0].iloc[0].to_dict() == {
        "score": "-0.48",
        "rsi": "71.3",
        "bb_pct": "1.12",
        "macd_hist": "-3.217",
        "atr": "412.5",
    }


def test_the_consensus_arithmetic_is_shown_term_by_term(seeded):
    app = open_page("views/market.py")
    assert ARITHMETIC in texts(app)
    terms = next(t.value for t in app.table if "Weight × sign × confidence" in t.value.columns)
    assert list(terms["Weight × sign × confidence"]) == [
        "-0.4800",
        "+0.0000",
        "not counted (abstained or no weight)",
        "-0.2750",
    ]


def test_the_llm_vote_shows_the_prompt_sent_the_raw_reply_latency_and_tokens(seeded):
    app = open_page("views/market.py")
    assert [c.value for c in app.code] == [SYSTEM, USER, RAW]
    assert any(
        "latency 1,834 ms · tokens: prompt 212, reply 38" in t and "total 1,840 ms" in t
        for t in texts(app)
    )


def test_a_risk_refusal_shows_as_rejected_with_its_reason(volt_home, store):
    reason = "daily loss limit: equity fell 3.10% today (limit 3.00%)"
    store_decision(store[1], action="BUY", outcome=f"rejected by risk: {reason}", refusal=reason)
    app = open_page("views/market.py")
    assert [e.value for e in app.error] == [f"**Rejected by risk:** {reason}"]


def test_a_picked_decision_stays_shown_when_newer_ones_arrive(volt_home, store):
    picked = store_decision(store[1], minute=0)
    store_decision(store[1], minute=5, action="BUY", outcome="entries paused")
    app = open_page("views/market.py")
    assert any(t.startswith("#### Decision #2 ") for t in texts(app))  # the newest, till a pick
    app.session_state["decisions_table_decision"] = picked
    app.run()
    assert any(t.startswith(f"#### Decision #{picked} ") for t in texts(app))
    store_decision(store[1], minute=10)
    ui._cached.clear()  # the pages' reads live 2 s
    app.run()
    assert any(t.startswith(f"#### Decision #{picked} ") for t in texts(app))
    assert app.session_state["decisions_table"]["selection"]["rows"] == [2]


def test_a_table_of_long_reasons_wraps_in_tall_rows_instead_of_cutting(volt_home, store):
    reason = "4 losing trades in a row (limit 4): the last closed at -1.20%, -0.85% and -2.10%"
    with transaction(store[1]) as session:
        session.add(
            ProtectionLock(
                protection="losing_streak", reason=reason, clears="when a person lifts it", ts=START
            )
        )
    app = open_page("views/overview.py")
    protections = next(d for d in app.dataframe if "clears" in d.value.columns)
    assert any(reason in state for state in protections.value["state"])  # whole in its cell
    assert protections.proto.row_height > 64  # Streamlit wraps text in rows above 64 px
    columns = json.loads(protections.proto.columns)
    assert {columns[c]["width"] for c in ("question", "state", "clears")} == {"medium"}


def test_the_decision_picker_keeps_one_line_rows(seeded):
    app = open_page("views/market.py")
    assert not app.dataframe[0].proto.row_height  # the text is shown whole below it


def test_remote_text_is_shown_as_text_never_as_a_link_heading_or_image():
    from views.decision_view import plain

    shown = plain(
        "# BUY ![x](http://evil.example/p.png) see https://evil.example or www.evil.example"
    )
    assert ":\u200b//" in shown and "www\u200b." in shown  # no address Markdown links by itself
    assert "://" not in shown and "www." not in shown
    assert shown.startswith("\\#") and "!\\[x\\]" in shown
