"""Trades: every round trip, and a CSV whose rows are the trades table."""

import streamlit as st

from data import queries
from pages import ui

st.title("Trades")

trades = ui.read(queries.trades)
if trades.empty:
    st.info(
        "No closed trades yet. The engine opens a position when the agents agree strongly "
        "enough; each closed round trip appears here with its P&L and exit reason."
    )
else:
    wins = int((trades["pnl"] > 0).sum())
    cols = st.columns(4)
    cols[0].metric("Trades", len(trades))
    cols[1].metric("Win rate", f"{wins / len(trades):.0%}")
    cols[2].metric("Net P&L", ui.money(float(trades["pnl"].sum()), signed=True))
    cols[3].metric("Fees paid", ui.money(float(trades["fees"].sum())))
    st.dataframe(
        ui.localise(trades, "entry_ts", "exit_ts").iloc[::-1],
        hide_index=True,
        width="stretch",
    )
st.download_button(
    "Download trades as CSV",
    data=queries.trades_csv(trades),
    file_name="volt-trades.csv",
    mime="text/csv",
    disabled=trades.empty,
    key="trades_csv",
)
