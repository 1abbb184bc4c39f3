"""Market: candles with indicators and trade markers, and each decision with its votes in full."""

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from data import queries
from data.market.indicators import add_indicators
from views import decision_view, ui

BARS_SHOWN = 300  # candlesticks are not WebGL; keep the chart light
DECISIONS_SHOWN = 30

st.title("Market")
cfg = ui.settings()
pair = st.selectbox("Pair", cfg.market.pairs, key="market_pair")
if cfg.feed.kind == "synthetic":
    st.caption(f"Simulated market data (seed {cfg.feed.seed}) — not real prices.")
elif cfg.feed.kind == "replay":
    st.caption(f"Replayed market data: {ui.replay_source(cfg)}, on the engine's own clock.")


# The lengths the agents read ([indicators]), so the chart shows the RSI they decided on.
PERIODS = cfg.indicators.periods()


def price_chart(candles, markers) -> go.Figure:
    frame = ui.localise(add_indicators(candles, PERIODS).reset_index(), "ts")
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.03
    )
    figure.add_trace(
        go.Candlestick(
            x=frame["ts"],
            open=frame["open"],
            high=frame["high"],
            low=frame["low"],
            close=frame["close"],
            name=pair,
        ),
        row=1,
        col=1,
    )
    for column, name in (
        ("bb_upper", "Upper band"),
        ("bb_middle", "Middle"),
        ("bb_lower", "Lower band"),
    ):
        figure.add_trace(
            go.Scatter(
                x=frame["ts"],
                y=frame[column],
                name=name,
                mode="lines",
                line=dict(width=1, color="#7f8c9a", dash="dot" if column == "bb_middle" else None),
            ),
            row=1,
            col=1,
        )
    if not markers.empty:
        marks = ui.localise(markers, "entry_ts", "exit_ts")
        figure.add_trace(
            go.Scatter(
                x=marks["entry_ts"],
                y=marks["entry_price"],
                mode="markers",
                name="Entry",
                marker=dict(symbol="triangle-up", size=11, color="green"),
            ),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=marks["exit_ts"],
                y=marks["exit_price"],
                mode="markers",
                name="Exit",
                text=marks["exit_reason"],
                marker=dict(symbol="triangle-down", size=11, color="red"),
            ),
            row=1,
            col=1,
        )
    figure.add_trace(
        go.Scatter(x=frame["ts"], y=frame["rsi"], name=f"RSI {PERIODS.rsi}", mode="lines"),
        row=2,
        col=1,
    )
    for level in (30, 70):
        figure.add_hline(y=level, line_dash="dot", row=2, col=1)
    figure.update_layout(
        height=560,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_rangeslider_visible=False,
        # Above the chart: below, it would sit on the time axis' title.
        legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0),
    )
    figure.update_xaxes(title_text=ui.time_label("Market time"), row=2, col=1)
    return figure


@st.fragment(run_every=ui.refresh_every())
def market_panel() -> None:
    candles = ui.read(queries.candles, pair, BARS_SHOWN)
    if candles.empty:
        st.info(f"No candles for {pair} yet. They appear after the engine's first tick.")
    else:
        markers = ui.read(queries.trade_markers, pair, candles.index[0].to_pydatetime())
        st.plotly_chart(price_chart(candles, markers), width="stretch", key="price_chart")

    st.subheader("Decisions and the reasoning behind each vote")
    decisions = ui.read(queries.decision_list, pair=pair, limit=DECISIONS_SHOWN)
    if decisions.empty:
        st.caption("No decisions yet for this pair.")
        return
    st.caption("Click a decision to read every vote in full, the arithmetic and risk's verdict.")
    columns = ["candle_ts", "action", "score", "threshold", "regime"]
    columns += [*decision_view.vote_columns(decisions), "result"]
    chosen = decision_view.pick_decision(decisions, columns, key="decisions_table")
    decision_view.show_decision(chosen)


market_panel()
