"""Overview: equity, P&L, open positions and what the engine is doing."""

import streamlit as st

from data import queries
from views import equity_charts, risk_panel, ui

st.title("Overview")


@st.fragment(run_every=ui.refresh_every())
def overview_panel() -> None:
    cfg = ui.settings()
    state = ui.read(queries.engine_state)
    equity = ui.read(queries.equity_curve)
    positions = ui.read(queries.open_positions)
    realised = ui.read(queries.realised_pnl)
    today = ui.pnl_today(state)  # the sidebar's figure: one "today" on every page
    unrealised = float(positions["unrealised_pnl"].sum()) if not positions.empty else 0.0

    st.markdown(ui.state_line(state))
    if equity.empty:
        st.info(
            "No trading yet. Start VOLT with `./start.sh` (or press Start on the Control page); "
            "the engine records equity from its first tick."
        )
        return
    current = float(equity["equity"].iloc[-1])
    start = cfg.broker.starting_capital
    quote = cfg.broker.quote_currency
    row = ui.metric_row()
    width = ui.METRIC_WIDTH
    row.metric(
        f"Equity ({quote})", ui.amount(current), ui.amount(current - start, True), width=width
    )
    row.metric(f"Realised P&L ({quote})", ui.amount(realised, True), width=width)
    row.metric(f"Unrealised P&L ({quote})", ui.amount(unrealised, True), width=width)
    row.metric(
        ui.today_label(),
        ui.amount(today or 0.0, True),
        help=f"Equity change since {ui.local_time(ui.market_midnight(state))}, fees included "
        f"({ui.clock_note()})",
        width=width,
    )
    row.metric("Open positions", f"{len(positions)} / {cfg.risk.max_open_positions}", width=width)

    # The whole history, thinned for the browser, its drawdown underneath.
    curve = ui.localise(ui.read(queries.equity_drawdown), "ts")
    resets = ui.localise(ui.read(queries.account_resets), "ts")
    figure = equity_charts.equity_and_drawdown(curve, resets, start, ui.time_label("Market time"))
    st.plotly_chart(figure, width="stretch", key="equity_chart")

    st.subheader("Open positions")
    if positions.empty:
        st.caption("No open positions.")
    else:
        ui.table(
            positions,
            [
                "pair",
                "amount",
                "entry_price",
                "last_price",
                "stop_loss",
                "take_profit",
                "value",
                "unrealised_pnl",
                "entry_ts",
            ],
        )


overview_panel()


@st.fragment(run_every=ui.refresh_every())
def overview_risk() -> None:
    risk_panel.show()


overview_risk()
