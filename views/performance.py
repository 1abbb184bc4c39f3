"""Performance: realised profit by day and by pair, and the paper account's reset."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from data import queries
from data.store.commands import RESET_CONFIRMATION
from views import command_status, equity_charts, password, ui

PAGE = "performance"  # this page's command banner
st.title("Performance")
cfg = ui.settings()
quote = cfg.broker.quote_currency


def money(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(f"{label} ({quote})", format="%.2f")


RATE = st.column_config.NumberColumn("Win rate", format="percent")


def daily_chart(days: pd.DataFrame, resets: pd.DataFrame) -> go.Figure:
    colours = ["#2ca02c" if pnl >= 0 else "#d62728" for pnl in days["pnl"]]
    figure = go.Figure(go.Bar(x=days["day"], y=days["pnl"], marker_color=colours, name="P&L"))
    if not resets.empty:
        equity_charts.mark_resets(figure, pd.to_datetime(resets["ts"].dt.date))
    figure.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=30, b=10),
        yaxis_title=f"Realised P&L ({quote})",
        xaxis_title=ui.time_label("Day"),
    )
    return figure


@st.fragment(run_every=ui.refresh_every())
def profit_panel() -> None:
    resets = ui.read(queries.account_resets)
    since = None
    if not resets.empty and st.toggle("Since the last paper reset", key="since_reset"):
        since = resets["ts"].iloc[-1].to_pydatetime()
    resets = ui.localise(resets, "ts")
    days = ui.read(queries.profit_by_day, ui.zone(), since)
    if days.empty:
        st.info(
            "No closed trades yet: profit by day and by pair appear after the first round trip "
            "(start trading on the Control page)."
            if since is None
            else f"No closed trades since the paper reset of {ui.local_time(since)}."
        )
        return
    pairs = ui.read(queries.profit_by_pair, since)
    trades, wins = int(pairs["trades"].sum()), int(pairs["wins"].sum())
    cols = ui.metric_cells(4)
    cols[0].metric("Closed trades", f"{trades:,}")
    cols[1].metric("Win rate", f"{wins / trades:.1%}")
    cols[2].metric(f"Realised P&L ({quote})", ui.amount(float(pairs["pnl"].sum()), True))
    cols[3].metric(f"Fees paid ({quote})", ui.amount(float(pairs["fees"].sum())))

    st.subheader("Profit by day")
    st.plotly_chart(daily_chart(days, resets), width="stretch", key="daily_chart")
    st.dataframe(
        days,
        column_config={
            "day": st.column_config.DateColumn(ui.time_label("Day")),
            "trades": "Trades",
            "wins": "Wins",
            "win_rate": RATE,
            "pnl": money("P&L"),
            "fees": money("Fees"),
        },
        hide_index=True,
        width="stretch",
        key="daily_table",
    )

    st.subheader("Profit by pair")
    st.dataframe(
        pairs,
        column_config={
            "pair": "Pair",
            "trades": "Trades",
            "wins": "Wins",
            "win_rate": RATE,
            "pnl": money("P&L"),
            "fees": money("Fees"),
            "best": money("Best trade"),
            "worst": money("Worst trade"),
        },
        hide_index=True,
        width="stretch",
        key="pair_table",
    )
    if not resets.empty:
        st.caption(
            "Paper account resets (dashed lines): "
            + "; ".join(
                f"{ui.local_time(row.ts)} to {row.capital:,.2f} {quote}"
                for row in resets.itertuples()
            )
        )


profit_panel()


def reset_blockers(state: dict, positions: pd.DataFrame) -> list[str]:
    """Why the reset cannot be sent now; the supervisor checks again when it runs it."""
    blockers = []
    if state["worker_pid"] is not None:
        blockers.append("Trading is running: stop it on the Control page first.")
    if not positions.empty:
        pairs = ", ".join(positions["pair"])
        blockers.append(f"Close the open positions first ({pairs}): Control page.")
    return blockers


@st.fragment(run_every=ui.refresh_every())
def reset_panel() -> None:
    """Reruns on its own, so the blockers and the command's banner follow the engine."""
    command_status.refresh(PAGE)
    state = ui.read(queries.engine_state)
    positions = ui.read(queries.open_positions)
    capital = cfg.broker.starting_capital
    st.markdown(
        f"Starts a new paper account with **{capital:,.2f} {quote}** and no coins. Trades, "
        "decisions and the equity history are kept, and the charts mark the reset; the "
        "daily-loss and drawdown limits measure from the new capital."
    )
    if state["supervisor_pid"] is None:
        st.caption("The supervisor is not running: the reset waits for it and is done first.")
    blockers = reset_blockers(state, positions)
    for blocker in blockers:
        st.warning(blocker)
    typed = st.text_input(
        f"Type {RESET_CONFIRMATION} to reset the paper account",
        key="reset_confirm_text",
        disabled=bool(blockers),
    )
    if st.button(
        "Reset paper account",
        key="reset_paper",
        type="primary",
        disabled=bool(blockers) or typed.strip() != RESET_CONFIRMATION,
    ):
        command_id = ui.send_command("reset_paper", {"typed": typed.strip()})
        command_status.sent(PAGE, command_id, "Paper account reset")
    command_status.show(PAGE)


st.subheader("Reset the paper account")
if cfg.mode != "paper" or cfg.broker.kind != "paper":
    st.caption(
        f"Only a paper account can be reset; this config trades in {cfg.mode} mode through "
        f"the {cfg.broker.kind} broker."
    )
else:
    password.require_password()  # last on the page: when locked, it stops here
    reset_panel()
