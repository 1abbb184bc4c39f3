"""The Risk panel of the Overview and Kill switch pages: exposure against the limits, each
protection's state, and the latest rejected orders with their reasons."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import queries
from views import ui
from views.plain_text import plain

# Each protection (by the name the engine stores) and the question it answers.
PROTECTIONS = {
    "kill_switch": "Kill switch pressed or engine halted?",
    "max_drawdown": "Equity too far below its peak?",
    "daily_loss_limit": "Lost too much today (UTC)?",
    "losing_streak": "Too many losing trades in a row?",
    "stop_out_cooldown": "Pair stopped out a moment ago?",
    "max_exposure": "No room left under the total exposure limit?",
    "max_trades_per_hour": "Too many entries in the last hour?",
    "rejection_breaker": "Broker refusing order after order?",
}


def share(value: float, whole: float) -> float:
    return value / whole if whole else 0.0


def entries_headline(state: dict, locks: pd.DataFrame, rows: list[dict]) -> None:
    """What keeps new entries out, first the strongest: a halt, the trader's pause, the
    protections; "nothing" only when the engine would enter."""
    halt = locks[locks["protection"] == "kill_switch"] if not locks.empty else locks
    others = sum(1 for r in rows if r["state"] != "clear" and r["protection"] != "kill_switch")
    blocked = state["halted"] or not halt.empty
    also = f" {others} other protection(s) block them too." if others and blocked else ""
    if state["halted"]:  # the engine's own flag first: a kill's lock row may lag or differ
        why = plain(state["halt_reason"] or "kill switch")
        st.error(
            f"New entries blocked: engine halted: {why}. Re-arm on the Kill switch page." + also
        )
    elif not halt.empty:
        reason = plain(halt["reason"].iloc[0])
        st.error(f"New entries blocked: {reason}. Re-arm on the Kill switch page." + also)
    elif state["entries_paused"] or state["status"] == "paused":
        more = f" {others} protection(s) block them as well." if others else ""
        st.warning(
            "New entries paused from the Control page (Resume entries there); exits and stops "
            "go on." + more
        )
    elif others:
        st.warning(f"{others} protection(s) block new entries; exits and stops go on.")
    elif state["entry_blocks"]:
        st.warning(f"New entries wait: {state['entry_blocks']}; exits and stops go on.")
    elif state["status"] != "running":
        st.caption(
            f"No protection blocks new entries, but the engine is {state['status']}: nothing "
            "trades until it runs."
        )
    else:
        st.caption("No protection blocks new entries.")


def show() -> None:
    cfg = ui.settings()
    risk, rules = cfg.risk, cfg.risk.protections
    st.subheader("Risk")
    positions = ui.read(queries.open_positions)
    levels = ui.read(queries.equity_and_peak)
    equity = levels["equity"] or cfg.broker.starting_capital
    peak = max(levels["peak"] or equity, equity)
    exposure = float(positions["value"].sum()) if not positions.empty else 0.0
    largest = float(positions["value"].max()) if not positions.empty else 0.0

    row = ui.metric_row()
    total = share(exposure, equity)
    biggest = share(largest, equity)
    drawdown = 1 - share(equity, peak)
    for label, value, used in (
        (
            "Exposure",
            f"{total:.0%} of {risk.max_total_exposure:.0%}",
            share(total, risk.max_total_exposure),
        ),
        (
            "Largest position",
            f"{biggest:.0%} of {risk.max_position_fraction:.0%}",
            share(biggest, risk.max_position_fraction),
        ),
        (
            "Drawdown from peak",
            f"{drawdown:.1%} of {rules.max_drawdown:.0%}",
            share(drawdown, rules.max_drawdown),
        ),
    ):
        cell = row.container(width=ui.METRIC_WIDTH)
        cell.metric(label, value)
        cell.progress(min(1.0, max(0.0, used)))
    row.metric(
        "Open positions", f"{len(positions)} / {risk.max_open_positions}", width=ui.METRIC_WIDTH
    )

    locks = ui.read(queries.protection_locks)
    rows = []
    for name, question in PROTECTIONS.items():
        active = locks[locks["protection"] == name] if not locks.empty else locks
        if active.empty:
            rows.append({"protection": name, "question": question, "state": "clear", "clears": ""})
        for lock in active.itertuples():
            where = f" ({lock.pair})" if isinstance(lock.pair, str) else ""
            rows.append(
                {
                    "protection": name,
                    "question": question,
                    "state": f"BLOCKING{where}: {lock.reason}",
                    "clears": lock.clears,
                }
            )
    entries_headline(ui.read(queries.engine_state), locks, rows)
    table = pd.DataFrame(rows, columns=["protection", "question", "state", "clears"])
    ui.table(table, ["protection", "question", "state", "clears"], key="protections")

    st.markdown("**Recent rejections**")
    rejected = ui.read(queries.rejections, 20)
    if rejected.empty:
        st.caption("No order has been rejected.")
    else:
        ui.table(rejected, ["ts", "pair", "side", "source", "reason"], key="rejections")
