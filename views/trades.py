"""Trades: every round trip, and a CSV whose rows are the trades table."""

import streamlit as st

from data import queries
from views import ui

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
    cols[2].metric(f"Net P&L ({ui.quote()})", ui.amount(float(trades["pnl"].sum()), True))
    cols[3].metric(f"Fees paid ({ui.quote()})", ui.amount(float(trades["fees"].sum())))
    ui.table(trades.iloc[::-1], list(trades.columns), key="trades_table")
st.download_button(
    "Download trades as CSV",
    data=queries.trades_csv(trades),
    file_name="volt-trades.csv",
    mime="text/csv",
    disabled=trades.empty,
    key="trades_csv",
)
