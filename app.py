"""VOLT control room: the router. Every page reads the database; none holds trading state.

Page scripts live in views/, not pages/: Streamlit 1.67 runs the first session after a start
as an old-style multipage app whenever a pages/ folder sits beside the main script.
"""

from pathlib import Path

import streamlit as st

from views import ui

# A local file, not a Material icon: Streamlit fetches those from fonts.gstatic.com, and
# nothing may leave the machine that the user did not configure.
ICON = Path(__file__).resolve().parent / "views" / "assets" / "volt.png"
st.set_page_config(page_title="VOLT", page_icon=str(ICON), layout="wide")

navigation = st.navigation(
    [
        st.Page("views/overview.py", title="Overview", icon=":material/monitoring:", default=True),
        st.Page("views/market.py", title="Market", icon=":material/candlestick_chart:"),
        st.Page("views/trades.py", title="Trades", icon=":material/receipt_long:"),
        st.Page("views/performance.py", title="Performance", icon=":material/insights:"),
        st.Page("views/agents.py", title="Agents", icon=":material/groups:"),
        st.Page("views/backtest.py", title="Backtest", icon=":material/history:"),
        st.Page("views/system.py", title="System", icon=":material/device_thermostat:"),
        st.Page("views/logs.py", title="Logs", icon=":material/article:"),
        st.Page("views/control.py", title="Control", icon=":material/tune:"),
        st.Page("views/kill_switch.py", title="Kill switch", icon=":material/dangerous:"),
    ]
)
ui.sidebar()
navigation.run()
