"""Logs: the tail of the engine's and dashboard's log files, filtered by level and component,
following the file as it grows."""

import streamlit as st

from data import logs
from views import ui

st.title("Logs")
FOLLOW_SECONDS = 2.0
LINE_CHOICES = (100, 200, 500, 1000, 2000)
ALL_LEVELS = "All lines"

files = logs.log_files()
if not files:
    st.info(
        f"No log files yet in {logs.logs_folder()}. The engine writes supervisor.log and "
        "worker.log there once VOLT runs (`./start.sh`)."
    )
    st.stop()

names = [f.name for f in files]
pick, level_col, lines_col, follow_col = st.columns([3, 2, 1, 1])
name = pick.selectbox(
    "Log file",
    names,
    key="log_file",
    format_func=lambda n: f"{n} ({files[names.index(n)].size / 1e6:,.1f} MB)",
    help="The current files; rotated copies (*.log.1 …) stay on disk.",
)
level = level_col.selectbox(
    "Level and worse",
    [ALL_LEVELS, *logs.LEVELS[1:]],
    key="log_level",
    help=f"{ALL_LEVELS}: with the lines other programs wrote, which have no level",
)
limit = lines_col.selectbox("Last", LINE_CHOICES, index=1, key="log_lines")
follow = follow_col.toggle("Follow", value=True, key="log_follow")


def log_tail() -> None:
    """Reread on its own while following: only the file's tail is read each time."""
    # The components' choice is made below, from the components this read found.
    chosen = st.session_state.get("log_components", [])
    secrets = logs.known_secrets(ui.settings())
    try:
        tail = logs.tail_log(
            name,
            limit=limit,
            min_level="" if level == ALL_LEVELS else level,
            components=set(chosen),
            secrets=secrets,
        )
    except (logs.UnknownLogFile, OSError) as exc:
        st.warning(f"Cannot read {name}: {exc}")
        return
    st.multiselect(
        "Components (loggers)",
        sorted({*tail.components, *chosen}),  # a choice stays even when out of the window
        key="log_components",
        placeholder="All components",
    )
    searched = (
        "the whole file"
        if tail.reached_start
        else f"its last {tail.scanned_bytes / 1e6:,.1f} MB of {tail.file_size / 1e6:,.1f} MB"
    )
    st.caption(
        f"{len(tail.records)} of the last records of {name}, searched in {searched}; times as "
        "the computer's clock wrote them."
    )
    if tail.records:
        text = "\n".join(r.text for r in tail.records)
        # Long lines wrap (a traceback's stays readable); a long tail scrolls in its box.
        height = 560 if text.count("\n") > 30 else "content"
        st.code(text, language=None, wrap_lines=True, height=height)
    else:
        st.caption("No line matches these filters.")


st.fragment(log_tail, run_every=FOLLOW_SECONDS if follow else None)()
