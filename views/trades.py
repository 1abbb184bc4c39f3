"""Trades: the totals, the newest round trips, and a CSV of every trade."""

import streamlit as st

from data import queries
from views import ui

SHOWN_AT_FIRST = 500  # rows; "Show more" adds as many again

st.title("Trades")

summary = ui.read(queries.trade_summary)
count = summary["trades"]
if count == 0:
    st.info(
        "No closed trades yet. The engine opens a position when the agents agree strongly "
        "enough; each closed round trip appears here with its P&L and exit reason."
    )
else:
    cols = ui.metric_cells(4)
    cols[0].metric("Trades", count)
    cols[1].metric("Win rate", f"{summary['wins'] / count:.0%}")
    cols[2].metric(f"Net P&L ({ui.quote()})", ui.amount(summary["pnl"], True))
    cols[3].metric(f"Fees paid ({ui.quote()})", ui.amount(summary["fees"]))
    shown = st.session_state.setdefault("trades_shown", SHOWN_AT_FIRST)
    latest = ui.read(queries.latest_trades, shown)
    ui.table(latest, list(latest.columns), key="trades_table")
    if count > shown:
        st.caption(f"The newest {shown:,} of {count:,} trades; the CSV holds every one.")
        if st.button("Show more", key="trades_more"):
            st.session_state["trades_shown"] = shown + SHOWN_AT_FIRST
            st.rerun()
# Built on request, not on every render (100k trades take about a second), and then
# offered as a plain file: a download prepared in the browser's click could be lost.
if st.button(
    f"Prepare a CSV of all {count:,} trades", key="trades_csv_prepare", disabled=count == 0
):
    with st.spinner("Writing the CSV…"):
        every = queries.trades(ui.store()[0])
        st.session_state["trades_csv_data"] = (queries.trades_csv(every), len(every))
if prepared := st.session_state.get("trades_csv_data"):
    data, rows = prepared
    st.download_button(
        f"Download trades as CSV ({rows:,} trades, as prepared)",
        data=data,
        file_name="volt-trades.csv",
        mime="text/csv",
        key="trades_csv",
    )
