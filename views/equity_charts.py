"""Charts of the account over time, shared by the Overview and the Performance page: the
equity curve with its drawdown underneath, and the line each paper account reset leaves."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

RESET_COLOUR = "#f39c12"


def equity_and_drawdown(
    curve: pd.DataFrame, resets: pd.DataFrame, start: float, time_title: str
) -> go.Figure:
    """`curve` (ts, equity, drawdown as a fraction) as two charts sharing the time axis
    (titled `time_title`, under the lower one): the equity, and below it how far it stands
    under its running peak, in %."""
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.05
    )
    figure.add_trace(
        go.Scatter(x=curve["ts"], y=curve["equity"], mode="lines", name="Equity"), row=1, col=1
    )
    figure.add_trace(
        go.Scatter(
            x=curve["ts"],
            y=curve["drawdown"] * 100,
            mode="lines",
            fill="tozeroy",
            name="Drawdown",
            line=dict(color="#d62728", width=1),
        ),
        row=2,
        col=1,
    )
    figure.add_hline(y=start, line_dash="dot", annotation_text="starting capital", row=1, col=1)
    mark_resets(figure, resets["ts"])
    figure.update_yaxes(title_text="Equity", row=1, col=1)
    figure.update_yaxes(title_text="Drawdown", ticksuffix="%", row=2, col=1)
    figure.update_xaxes(title_text=time_title, row=2, col=1)
    figure.update_layout(
        height=440, margin=dict(l=10, r=10, t=30, b=10), title="Equity curve", showlegend=False
    )
    return figure


def mark_resets(figure: go.Figure, times: pd.Series) -> None:
    """A dashed line at each paper account reset, labelled once at the top."""
    for ts in times:
        # add_vline's own annotation fails on a datetime axis: the label is added apart.
        figure.add_vline(x=ts, line_dash="dash", line_color=RESET_COLOUR)
        figure.add_annotation(
            x=ts,
            y=1,
            yref="paper",
            text="paper reset",
            showarrow=False,
            font=dict(color=RESET_COLOUR),
            yanchor="bottom",
        )
