"""The dashboard's lock when it listens beyond this machine: the password form, and wrong
passwords slowed down exponentially per browser session and per client address."""

from __future__ import annotations

import hmac
import math
import threading
import time

import streamlit as st

from config.keys import dashboard_password
from views import ui

FIRST_WAIT_SECONDS = 1.0  # after the first wrong password; doubles with each one after
MAX_WAIT_SECONDS = 60.0

clock = time.monotonic  # swapped in tests: nothing here waits, it only compares
# Per address, shared by every session of this server process: a new browser session does
# not start a guesser's count again.
_by_address: dict[str, tuple[int, float]] = {}
_lock = threading.Lock()


def wait_after(failures: int) -> float:
    """Seconds a session or address must wait after this many wrong passwords in a row."""
    if failures <= 0:
        return 0.0
    return min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** (failures - 1))


def _address() -> str | None:
    try:
        return st.context.ip_address
    except Exception:  # noqa: BLE001 - no request behind this run (a test): no address
        return None


def _records(address: str | None) -> list[tuple[int, float]]:
    records = [st.session_state.get("password_failures", (0, 0.0))]
    if address:
        with _lock:
            records.append(_by_address.get(address, (0, 0.0)))
    return records


def seconds_to_wait(address: str | None) -> float:
    """How long before another password may be tried: the longer of session and address."""
    now = clock()
    return max(last + wait_after(n) - now for n, last in _records(address))


def _failed(address: str | None) -> None:
    now = clock()
    n, _ = st.session_state.get("password_failures", (0, 0.0))
    st.session_state["password_failures"] = (n + 1, now)
    if address:
        with _lock:
            n, _ = _by_address.get(address, (0, 0.0))
            _by_address[address] = (n + 1, now)


def _passed(address: str | None) -> None:
    st.session_state.pop("password_failures", None)
    if address:
        with _lock:
            _by_address.pop(address, None)


def require_password() -> None:
    """Pages that trade, halt or start work ask for the password when the dashboard listens
    beyond this machine; on loopback, the machine's own login is the lock."""
    if not ui.settings().dashboard.exposed or st.session_state.get("unlocked"):
        return
    expected = dashboard_password()
    if not expected:
        st.error(
            "This dashboard listens beyond this machine but no VOLT_DASHBOARD_PASSWORD is set: "
            "the controls stay locked. Set it in the environment or .env and restart."
        )
        st.stop()
    address = _address()
    with st.form("unlock"):
        st.markdown(":material/lock: This page can trade, halt or start work. Enter the "
                    "dashboard password.")  # fmt: skip
        typed = st.text_input("Password", type="password", key="password")
        if st.form_submit_button("Unlock"):
            wait = seconds_to_wait(address)
            if wait > 0:  # not even checked: a guess in the wait costs the guesser nothing new
                st.error(f"Too many wrong passwords: try again in {math.ceil(wait)} s.")
            elif hmac.compare_digest(typed.encode(), expected.encode()):
                _passed(address)
                st.session_state["unlocked"] = True
                st.rerun()
            else:
                _failed(address)
                st.error("Wrong password.")
    st.stop()
