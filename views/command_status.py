"""A command's banner that follows it: waiting for the engine, then done or failed in the
engine's own words, read from the commands table on every refresh of the fragment that
shows it. One banner per page and session: a newer command's supersedes the older one, and
a finished one goes after FINISHED_SHOWN_SECONDS."""

from __future__ import annotations

import time

import streamlit as st

from data import queries
from views import ui

FINISHED_SHOWN_SECONDS = 30.0
FINISHED = ("done", "failed")


def _key(page: str) -> str:
    return f"command_banner_{page}"


def sent(page: str, command_id: int, what: str) -> None:
    """Follow this command on `page` from now on, in place of the page's previous one."""
    st.session_state[_key(page)] = {"id": command_id, "what": what, "finished_seen": None}
    # `show` in this same run says "waiting" until the next `refresh` reads it.


def refresh(page: str) -> None:
    """Read the page's latest command as its runner last wrote it. Call it at the top of the
    fragment, before the engine state it shows: the runner writes the state before the
    outcome, so a command seen finished has its state in the reads that follow."""
    banner = st.session_state.get(_key(page))
    if banner is None:
        return
    # Uncached: the cached reads may be up to ui.READ_TTL_SECONDS old.
    command = queries.command_outcome(ui.store()[0], banner["id"])
    if command is None:  # the database was replaced under the page
        del st.session_state[_key(page)]
        return
    banner["status"], banner["result"] = command["status"], command["result"] or ""
    if banner["status"] in FINISHED and banner["finished_seen"] is None:
        # Timed from when this page first saw it finish (the command's own stamps may be on a
        # simulated market's clock). The cached reads predate it: drop them (the one
        # st.cache_data in the pages is ui.read's), so this page and its sidebar read the
        # state it left.
        banner["finished_seen"] = time.monotonic()
        st.cache_data.clear()
    elif (
        banner["status"] in FINISHED
        and time.monotonic() - banner["finished_seen"] > FINISHED_SHOWN_SECONDS
    ):
        del st.session_state[_key(page)]


def show(page: str) -> None:
    """The banner of the page's latest command as `refresh` last read it: waiting, being
    carried out, done or failed."""
    banner = st.session_state.get(_key(page))
    if banner is None:
        return
    head = f"{banner['what']} (command #{banner['id']})"
    status = banner.get("status", "pending")  # sent in this very run: not read yet
    if status == "done":
        st.success(f"{head} done: {banner['result']}")
    elif status == "failed":
        st.error(f"{head} failed: {banner['result']}")
    elif status == "claimed":
        st.info(f"{head}: the engine is carrying it out…")
    else:
        st.info(f"{head}: waiting for the engine…")
