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
    cols = st.columns(4)
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
engine = ui.store()[0]
st.download_button(
    "Download trades as CSV",
    # Built when clicked, not on every render: 100k trades take about a second.
    data=lambda: queries.trades_csv(queries.trades(engine)),
    file_name="volt-trades.csv",
    mime="text/csv",
    disabled=count == 0,
    key="trades_csv",
)
