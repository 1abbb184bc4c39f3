"""VOLT control room: the router. Every page reads the database; none holds trading state."""

import streamlit as st

from pages import ui

st.set_page_config(page_title="VOLT", page_icon="⚡", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", icon="📈", default=True),
        st.Page("pages/market.py", title="Market", icon="🕯️"),
        st.Page("pages/trades.py", title="Trades", icon="🧾"),
        st.Page("pages/system.py", title="System", icon="🌡️"),
        st.Page("pages/control.py", title="Control", icon="🎛️"),
        st.Page("pages/kill_switch.py", title="Kill switch", icon="🛑"),
    ]
)
ui.sidebar()
navigation.run()
