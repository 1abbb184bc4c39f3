"""One decision in full, for the Market and Agents pages: a click on a decision shows every
vote with its whole rationale and the numbers behind it, the consensus arithmetic as the
engine did it, risk's verdict, and for the LLM the prompt sent, the raw reply, its latency
and its tokens."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import queries
from views import ui
from views.plain_text import plain

# Kept with an LLM vote and shown in its own panel, not among the numbers.
LLM_KEYS = {
    "model",
    "latency_ms",
    "raw_reply",
    "prompt",
    "prompt_eval_count",
    "eval_count",
    "total_duration_ms",
    "load_duration_ms",
    "prompt_eval_duration_ms",
    "eval_duration_ms",
    "error",
}
VERDICT_BOXES = {
    "Rejected by risk": st.error,
    "Approved by risk": st.success,
    "Approved by risk, refused by the broker": st.warning,
}


def vote_columns(decisions: pd.DataFrame) -> list[str]:
    """The "<agent> vote" columns of `queries.decision_list`, in agent order."""
    return [c for c in decisions.columns if c.endswith(" vote")]


def pick_decision(decisions: pd.DataFrame, columns: list[str], key: str) -> int | None:
    """The decisions as a table: a click on a row picks that decision, the newest until
    then. The pick follows the decision, not the row, as new decisions push it down."""
    ids = [int(i) for i in decisions["decision_id"]]
    if not ids:
        return None
    chosen_key = f"{key}_decision"
    chosen = st.session_state.get(chosen_key)
    if chosen not in ids:
        chosen = ids[0]
    st.session_state[chosen_key] = chosen
    row = ids.index(chosen)
    shown = st.session_state.get(key)
    if shown is None or list(shown["selection"]["rows"]) != [row]:
        st.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}

    def picked() -> None:  # runs on the next rerun, with the ids as the trader saw them
        rows = st.session_state[key]["selection"]["rows"]
        if rows and rows[0] < len(ids):
            st.session_state[chosen_key] = ids[rows[0]]

    ui.table(decisions, columns, key=key, on_select=picked, wrap=False)  # shown whole below
    return chosen


def show_decision(decision_id: int) -> None:
    detail = ui.read(queries.decision_detail, decision_id)
    if detail is None:
        st.caption(f"Decision #{decision_id} is no longer stored.")
        return
    decision = detail["decision"]
    st.markdown(
        f"#### Decision #{decision_id} · {decision['pair']} · **{decision['action']}**\n"
        f"Candle {ui.local_time(decision['candle_ts'])} · price {decision['price']:,.4f} · "
        f"regime {decision['regime'] or '—'}"
    )
    _verdict(detail)
    _arithmetic(detail)
    st.markdown("##### Votes")
    for vote in detail["votes"].itertuples(index=False):
        _vote(vote)


def _verdict(detail: dict) -> None:
    verdict, why = detail["verdict"]
    box = VERDICT_BOXES.get(verdict, st.info)
    box(f"**{verdict}:** {plain(why)}")
    journal = detail["journal"]
    if journal is not None and journal["outcome"] != "PENDING":
        pnl = journal["pnl"] or 0.0
        st.caption(
            f"Journal: {journal['outcome']} ({pnl:+,.2f} {ui.quote()}, "
            f"exit {journal['exit_reason'] or '—'})"
        )
    elif journal is not None:
        st.caption("Journal: PENDING (the position is still open)")
    refusals = detail["refusals"]
    if not refusals.empty and verdict != "Rejected by risk":
        for refusal in refusals.itertuples(index=False):
            st.caption(f"Refused by {refusal.source}: {plain(refusal.reason)}")
    if detail["decision"]["audit"]:
        st.warning(f"Auditor: {plain(detail['decision']['audit'])}")


def _arithmetic(detail: dict) -> None:
    st.markdown("##### Consensus")
    tally = detail["tally"]
    terms = tally["terms"]
    shown = pd.DataFrame(
        {
            "Agent": terms["agent"],
            "Vote": terms["action"],
            "Sign": terms["sign"].map("{:+d}".format),
            "Confidence": terms["confidence"].map("{:.3f}".format),
            "Weight": terms["weight"].map("{:.3f}".format),
            "Weight × sign × confidence": [
                f"{c:+.4f}" if counted else "not counted (abstained or no weight)"
                for c, counted in zip(terms["contribution"], terms["counted"], strict=True)
            ],
        }
    )
    st.table(shown, hide_index=True)
    counted = terms[terms["counted"]]
    if counted.empty:
        st.markdown(f"No vote counted: score 0. {tally['why']}.")
    else:
        parts = " ".join(f"{c:+.4f}" for c in counted["contribution"])
        weights = " + ".join(f"{w:.3f}" for w in counted["weight"])
        st.markdown(
            f"score = ({parts}) / ({weights}) = {tally['weighted_sum']:+.4f} / "
            f"{tally['total_weight']:.3f} = **{tally['score']:+.4f}**; {tally['why']} "
            f"(threshold of the {detail['decision']['regime'] or 'current'} regime)."
        )
    if round(tally["score"], 6) != round(detail["decision"]["score"], 6):
        st.warning(
            f"The stored score is {detail['decision']['score']:+.6f}: the weights used then "
            "are not the ones stored with the votes."
        )


def _vote(vote) -> None:
    data = vote.data if isinstance(vote.data, dict) else {}
    with st.container(border=True, key=f"vote_{vote.agent}"):
        st.markdown(
            f"**{vote.agent}** · {vote.action} at confidence {vote.confidence:.2f} · "
            f"weight {vote.weight:.3f} · {vote.source}"
        )
        st.markdown(plain(vote.rationale))
        numbers = {k: v for k, v in data.items() if k not in LLM_KEYS}
        if numbers:
            st.table(pd.DataFrame([numbers]).map(_number), hide_index=True)
        if LLM_KEYS & set(data):
            _llm_exchange(data)


def _llm_exchange(data: dict) -> None:
    def ms(key: str) -> str:
        value = data.get(key)
        return "—" if value is None else f"{value:,.0f} ms"

    def count(key: str) -> str:
        value = data.get(key)
        return "—" if value is None else f"{value:,}"

    st.markdown(
        f"Model {plain(data.get('model') or '—')} · latency {ms('latency_ms')} · "
        f"tokens: prompt {count('prompt_eval_count')}, reply {count('eval_count')} · "
        f"Ollama's timings: total {ms('total_duration_ms')}, load {ms('load_duration_ms')}, "
        f"prompt {ms('prompt_eval_duration_ms')}, reply {ms('eval_duration_ms')}"
    )
    prompt = data.get("prompt") or []
    if prompt:
        st.markdown("Prompt sent")
        for message in prompt:
            st.caption(message.get("role", ""))
            st.code(message.get("content", ""), language=None, wrap_lines=True)
    else:
        st.caption("No prompt stored with this vote (none was sent, or it predates them).")
    st.markdown("Raw reply")
    st.code(data.get("raw_reply") or "(empty)", language="json", wrap_lines=True)


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
