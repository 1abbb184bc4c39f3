"""Control: start, stop, pause and resume trading, close a position, and see each outcome;
before testnet or live, the held-out evidence for the config about to trade."""

import pandas as pd
import streamlit as st

from config.fingerprint import strategy_fingerprint
from data import queries
from data.store.commands import LIVE_CONFIRMATION
from data.store.db import utcnow
from data.store.evidence import WEAK_EVIDENCE_ACKNOWLEDGEMENT, EvidenceVerdict, evidence_verdict
from views import command_status, password, ui

st.title("Control")
password.require_password()
cfg = ui.settings()
PAGE = "control"  # this page's command banner (views/command_status.py)


def sent(command_id: int, what: str) -> None:
    command_status.sent(PAGE, command_id, what)


@st.fragment(run_every=ui.refresh_every())
def control_room() -> None:
    """The page's one status line, the latest command's banner and the buttons, all from one
    read of the engine's state per refresh, so they never disagree with each other."""
    command_status.refresh(PAGE)  # first: a finished command's state is in the read below
    state = ui.read(queries.engine_state)
    st.markdown(ui.state_line(state))
    if state["supervisor_pid"] is None:
        st.warning(
            "The supervisor is not running, so commands wait until it starts. Start VOLT with "
            "`./start.sh`."
        )
    if state["halted"]:
        st.error("Halted by the kill switch: re-arm it on the Kill switch page to start again.")
    left, right = st.columns(2)
    with left:
        trading_buttons(state)
    with right:
        close_position()
    # Below the buttons, after them (a press shows in this very run): a banner coming or
    # going must not move a button under the pointer between its press and release.
    command_status.show(PAGE)


def trading_buttons(state: dict) -> None:
    running = state["worker_pid"] is not None and not state["halted"]
    st.subheader("Trading")
    if st.session_state.get("confirm_start"):
        st.warning(f"Start trading in {cfg.mode.upper()} mode?")
        yes, no = st.columns(2)
        if yes.button("Yes, start trading", type="primary", key="start_confirm"):
            sent(ui.send_command("start"), "Start")
            st.session_state["confirm_start"] = False
            st.rerun()
        if no.button("Cancel", key="start_cancel"):
            st.session_state["confirm_start"] = False
            st.rerun()
    elif st.button("Start trading", key="start", disabled=bool(state["halted"]) or running):
        st.session_state["confirm_start"] = True
        st.rerun()
    stop_help = "No new orders, cancel open ones, then stop the worker; the supervisor stays up"
    if st.button("Stop trading", key="stop", help=stop_help):  # never disabled: state may be stale
        sent(ui.send_command("stop"), "Stop")
    pause, resume = st.columns(2)
    if pause.button("Pause new entries", key="pause", help="Stops and exits keep working"):
        sent(ui.send_command("pause"), "Pause")
    if resume.button("Resume entries", key="resume"):
        sent(ui.send_command("resume"), "Resume")


def close_position() -> None:
    st.subheader("Close a position")
    positions = ui.read(queries.open_positions)
    if positions.empty:
        st.caption("No open positions.")
        return
    pair = st.selectbox("Position", positions["pair"].tolist(), key="close_pair")
    confirmed = st.checkbox(f"Sell all of {pair} at market", key="close_confirmed")
    if st.button("Close position", key="close", disabled=not confirmed):
        sent(ui.send_command("close_position", {"pair": pair}), f"Close {pair}")


control_room()


def evidence_panel(verdict: EvidenceVerdict) -> None:
    """The go-live gate's reading for this config: none, weak (with why) or present."""
    st.subheader("Go-live evidence")
    head, *details = verdict.lines()
    if verdict.state == "present":
        st.success(head)
    elif cfg.mode == "paper":
        st.info(f"{head} · paper mode: informational only")
    else:
        st.warning(head)
    st.markdown("\n".join(f"- {line}" for line in details))


fingerprint = strategy_fingerprint(cfg)
evidence = evidence_verdict(ui.read(queries.latest_evidence, fingerprint), utcnow(), fingerprint)
evidence_panel(evidence)
if cfg.mode == "testnet" and evidence.weak:
    st.warning(
        f"Testnet trades without good held-out evidence ({evidence.summary()}). It is not "
        "blocked; live would need a second typed acknowledgement."
    )

# Read once per page run, not refreshed: the typed confirmation must not be redrawn under the
# typing. The status shown is the control room's above.
state = ui.read(queries.engine_state)
running = state["worker_pid"] is not None and not state["halted"]

if cfg.mode == "live" and not running:
    st.error(
        f"**LIVE mode**: the engine trades real money on {cfg.exchange.id}, at most "
        f"{cfg.exchange.max_order_value:g} {cfg.broker.quote_currency} per buy. It waits for "
        f"this confirmation each time the supervisor starts."
    )
    # Only a running supervisor takes it: one typed now would wait for a later start.
    no_supervisor = state["supervisor_pid"] is None
    if no_supervisor:
        st.caption(f"Start the supervisor first (`./start.sh`), then type {LIVE_CONFIRMATION}.")
    typed = st.text_input(
        f"Type {LIVE_CONFIRMATION} and press Enter to allow live trading",
        key="live_confirm_text",
        disabled=no_supervisor,
    )
    payload = {"typed": typed.strip()}
    accepted = True
    if evidence.weak:
        # The supervisor judges the evidence again when the command arrives.
        st.error(f"The held-out evidence is weak: {evidence.summary()}.")
        accept = st.text_input(
            f"Type {WEAK_EVIDENCE_ACKNOWLEDGEMENT} as well to trade live anyway",
            key="live_accept_weak_text",
            disabled=no_supervisor,
        )
        payload["accept_weak_evidence"] = accept.strip()
        accepted = accept.strip() == WEAK_EVIDENCE_ACKNOWLEDGEMENT
    if st.button(
        "Confirm live trading",
        type="primary",
        key="live_confirm",
        disabled=no_supervisor or typed.strip() != LIVE_CONFIRMATION or not accepted,
    ):
        sent(ui.send_command("confirm_live", payload), "Live confirmation")
        st.rerun()  # the control room above shows its banner


@st.fragment(run_every=ui.refresh_every())
def exchange_panel() -> None:
    st.subheader("Exchange")
    status = ui.read(queries.exchange_status)
    if not status or not status["exchange"]:
        st.caption(
            f"No exchange in use: {cfg.mode} mode with the {cfg.feed.kind} feed and the "
            f"{cfg.broker.kind} broker."
        )
        return
    reach = {True: "reachable", False: "NOT reachable", None: "not asked yet"}[status["reachable"]]
    st.markdown(
        f"**{status['exchange']}** ({status['mode'].upper()}) · {reach} · last good answer "
        f"{ui.local_time(status['last_ok_at'])} · status from {ui.local_time(status['updated_at'])}"
    )
    if status["last_error"]:
        st.error(
            f"Last exchange error ({ui.local_time(status['last_error_at'])}): "
            f"{status['last_error']}"
        )
    else:
        st.caption("No exchange error since the worker started.")
    balances, calls = st.columns(2)
    foreign = status.get("foreign") or {}
    with balances:
        st.markdown(f"Balances ({status['balances_from']})")
        held = pd.DataFrame(sorted(status["balances"].items()), columns=["currency", "total"])
        if held.empty:
            st.caption("No balances read yet.")
        else:
            # What is not VOLT's is shown apart: its equity and limits count VOLT's only.
            held["not VOLT's"] = held["currency"].map(foreign.get("balances") or {})
            held["dust"] = held["currency"].map(foreign.get("dust") or {})
            held = held.fillna(0.0)
            held["VOLT's"] = held["total"] - held["not VOLT's"] - held["dust"]
            columns = ["currency", "total", "VOLT's", "not VOLT's", "dust"]
            st.dataframe(held[columns], hide_index=True, width="stretch", key="exchange_balances")
            st.caption(
                "VOLT's equity, daily loss and drawdown count VOLT's column only; dust is what "
                "its sales could not sell, already written off in their trades."
            )
        others = pd.DataFrame(foreign.get("orders") or [])
        if not others.empty:
            st.markdown("Open orders not VOLT's (no VOLT client order id): left alone")
            st.dataframe(others, hide_index=True, width="stretch", key="exchange_foreign_orders")
    with calls:
        st.markdown("Latency of the last calls")
        recent = pd.DataFrame(
            list(reversed(status["calls"] or [])), columns=["call", "ms", "ok", "at"]
        ).rename(columns={"at": "ts"})
        if recent.empty:
            st.caption("No calls yet.")
        else:
            recent["ts"] = pd.to_datetime(recent["ts"], utc=True)
            ui.table(recent, ["ts", "call", "ms", "ok"], key="exchange_calls")


exchange_panel()


@st.fragment(run_every=ui.refresh_every())
def command_outcomes() -> None:
    st.subheader("Recent commands")
    commands = ui.read(queries.commands, 20)
    if commands.empty:
        st.caption("No commands yet.")
        return
    ui.table(commands, ["id", "ts", "wall_ts", "kind", "status", "result"])


command_outcomes()
