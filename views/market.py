"""Market: candles with indicators and trade markers, and each decision with its votes."""

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from data import queries
from data.market.indicators import add_indicators
from views import ui

BARS_SHOWN = 300  # candlesticks are not WebGL; keep the chart light

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
            go.Scattergl(
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
            go.Scattergl(
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
            go.Scattergl(
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
        go.Scattergl(x=frame["ts"], y=frame["rsi"], name=f"RSI {PERIODS.rsi}", mode="lines"),
        row=2,
        col=1,
    )
    for level in (30, 70):
        figure.add_hline(y=level, line_dash="dot", row=2, col=1)
    figure.update_layout(
        height=560,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis_rangeslider_visible=False,
        legend=dict(orientation="h"),
    )
    return figure
    figure.update_xaxes(title_text=ui.time_label("Market time"), row=2, col=1)


@st.fragment(run_every=ui.refresh_every())
def market_panel() -> None:
    candles = ui.read(queries.candles, pair, BARS_SHOWN)
    if candles.empty:
        st.info(f"No candles for {pair} yet. They appear after the engine's first tick.")
        return
    markers = ui.read(queries.trade_markers, pair, candles.index[0].to_pydatetime())
    st.plotly_chart(price_chart(candles, markers), width="stretch", key="price_chart")

    st.subheader("Decisions and the reasoning behind each vote")
    decisions = ui.read(queries.agent_timeline, pair=pair, limit=30)
    if decisions.empty:
        st.caption("No decisions yet for this pair.")
        return
    ui.table(
        decisions,
        [
            "candle_ts",
            "action",
            "score",
            "threshold",
            "regime",
            "result",
            "agent",
            "vote",
            "confidence",
            "weight",
            "source",
            "rationale",
        ],
        key="decisions_table",
    )


market_panel()
