"""Kill switch: flatten everything, cancel open orders, halt until re-armed."""

import streamlit as st

from data import queries
from views import command_status, password, risk_panel, ui
from views.plain_text import plain

CONFIRM_WORD = "KILL"
PAGE = "kill_switch"  # this page's command banner (views/command_status.py)

st.title("Kill switch")
password.require_password()


@st.fragment(run_every=ui.refresh_every())
def engine_halt_state() -> None:
    """Reruns on its own, so a press shows as HALTED, and its banner as done, without a
    reload."""
    command_status.refresh(PAGE)  # first: a finished command's state is in the read below
    state = ui.read(queries.engine_state)
    if state["halted"]:
        st.error(f"Engine HALTED: {plain(state['halt_reason'])}")
    else:
        st.markdown(ui.state_line(state))
    command_status.show(PAGE)
    last_kill = ui.read(queries.commands, 1, ("kill",))
    if not last_kill.empty and last_kill["status"].iloc[0] == "failed":
        st.error(
            f"The last kill switch (#{last_kill['id'].iloc[0]}) did not close everything: "
            f"{last_kill['result'].iloc[0]}. Press it again: it retries only what is left."
        )


engine_halt_state()
st.markdown(
    "Closes **every** open position at market, cancels open orders, and halts the engine. "
    "It works even when the engine worker is hung or dead: the supervisor does it. "
    "The halt survives restarts until you re-arm below."
)


@st.fragment(run_every=ui.refresh_every())
def positions_to_close() -> None:
    positions = ui.read(queries.open_positions)
    st.metric("Open positions", len(positions))
    if not positions.empty:
        ui.table(positions, ["pair", "amount", "entry_price", "last_price", "unrealised_pnl"])


positions_to_close()
typed = st.text_input(f"Type {CONFIRM_WORD} and press Enter to confirm", key="kill_confirm_text")
if st.button(
    "Flatten everything and halt",
    type="primary",
    key="kill",
    disabled=typed.strip() != CONFIRM_WORD,
):
    command_status.sent(PAGE, ui.send_command("kill"), "Kill switch")
    st.rerun()  # the banner at the top follows it


@st.fragment(run_every=ui.refresh_every())
def rearm_panel() -> None:
    st.subheader("Re-arm")
    state = ui.read(queries.engine_state)
    if not state["halted"]:
        st.caption("The engine is not halted.")
        return
    rearm_ok = st.checkbox(
        "I have checked the positions and want trading to resume", key="rearm_confirmed"
    )
    if st.button("Re-arm and resume trading", key="rearm", disabled=not rearm_ok):
        command_status.sent(PAGE, ui.send_command("rearm"), "Re-arm")
        st.rerun()  # the whole page: the banner at the top follows it


rearm_panel()


@st.fragment(run_every=ui.refresh_every())
def kill_outcomes() -> None:
    st.subheader("What the kill switch did")
    kills = ui.read(queries.commands, 10, ("kill", "rearm"))
    if kills.empty:
        st.caption("The kill switch has not been used.")
        return
    for row in kills.itertuples():
        text = f"#{row.id} {row.kind} at {ui.local_time(row.ts)}: {row.status}"
        body = row.result or "waiting for the supervisor…"
        if row.status == "failed":
            st.error(f"{text} — {body}")
        elif row.status == "done":
            st.success(f"{text} — {body}")
        else:
            st.info(f"{text} — {body}")


kill_outcomes()


@st.fragment(run_every=ui.refresh_every())
def kill_switch_risk() -> None:
    risk_panel.show()


kill_switch_risk()
