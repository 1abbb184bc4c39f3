"""The Risk panel of the Overview and Kill switch pages: exposure against the limits, each
protection's state, and the latest rejected orders with their reasons."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import queries
from views import ui

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

    cols = st.columns(4)
    total = share(exposure, equity)
    cols[0].metric("Exposure", f"{total:.0%} of {risk.max_total_exposure:.0%}")
    cols[0].progress(min(1.0, share(total, risk.max_total_exposure)))
    biggest = share(largest, equity)
    cols[1].metric("Largest position", f"{biggest:.0%} of {risk.max_position_fraction:.0%}")
    cols[1].progress(min(1.0, share(biggest, risk.max_position_fraction)))
    drawdown = 1 - share(equity, peak)
    cols[2].metric("Drawdown from peak", f"{drawdown:.1%} of {rules.max_drawdown:.0%}")
    cols[2].progress(min(1.0, share(drawdown, rules.max_drawdown)))
    cols[3].metric("Open positions", f"{len(positions)} / {risk.max_open_positions}")

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
    blocking = sum(1 for row in rows if row["state"] != "clear")
    if blocking:
        st.warning(f"{blocking} protection(s) block new entries; exits and stops go on.")
    else:
        st.caption("No protection blocks new entries.")
    table = pd.DataFrame(rows, columns=["protection", "question", "state", "clears"])
    ui.table(table, ["protection", "question", "state", "clears"], key="protections")

    st.markdown("**Recent rejections**")
    rejected = ui.read(queries.rejections, 20)
    if rejected.empty:
        st.caption("No order has been rejected.")
    else:
        ui.table(rejected, ["ts", "pair", "side", "source", "reason"], key="rejections")
