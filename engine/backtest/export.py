"""`backtest --export DIR`: the trade list and the equity curve as CSV, and a report page.

The page is one self-contained HTML file: plotly.js is written into it (plotly's own
`include_plotlyjs=True`, no CDN), the tables are plain HTML, and nothing is fetched when it
is opened, so it reads the same offline and years later.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from data.stats.backtest_labels import (
    ANNUALISED_KEYS,
    BUY_AND_HOLD_KEYS,
    PAIR_LABELS,
    SPAN_TOO_SHORT,
    STAT_LABELS,
    baseline_sentence,
    stat_text,
)
from engine.backtest.report import Report
from engine.backtest.runner import BacktestResult

CHART_POINTS = 20_000  # drawn; equity.csv keeps every candle
FILES = ("trades.csv", "equity.csv", "report.html")
# No third-party script, font or image: the plot's toolbar links and logo are switched off.
PLOT_CONFIG = {"displaylogo": False, "showSendToCloud": False}


def export_run(
    directory: str | Path, result: BacktestResult, report: Report, title: str
) -> list[Path]:
    """Write the three files into `directory` (created if need be); their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in FILES]
    result.trades.to_csv(paths[0], index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    equity_frame(result).to_csv(paths[1], date_format="%Y-%m-%dT%H:%M:%SZ")
    paths[2].write_text(report_html(result, report, title), encoding="utf-8")
    return paths


def equity_frame(result: BacktestResult) -> pd.DataFrame:
    """Equity, buy-and-hold and both drawdowns at every candle close."""
    equity, held = result.equity, result.buy_and_hold
    frame = pd.DataFrame(
        {
            "equity": equity.to_numpy(),
            "buy_and_hold": held.to_numpy(),
            "drawdown_pct": _drawdown(equity.to_numpy()),
            "buy_and_hold_drawdown_pct": _drawdown(held.to_numpy()),
        },
        index=equity.index,
    )
    return frame.rename_axis("ts")


def _drawdown(curve: np.ndarray) -> np.ndarray:
    return (curve / np.maximum.accumulate(curve) - 1) * 100


def report_html(result: BacktestResult, report: Report, title: str) -> str:
    figure = _figure(equity_frame(result))
    chart = figure.to_html(full_html=False, include_plotlyjs=True, config=PLOT_CONFIG)
    verdicts = [baseline_sentence(b.to_dict()) for b in report.baselines]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        *(f"<p>{html.escape(line)}</p>" for line in verdicts or [baseline_sentence(None)]),
        f"<p>{html.escape('; '.join(result.notes))}</p>",  # the fill model, the agents replayed
        chart,
        "<h2>Figures</h2>",
        _stats_table(report.stats),
        "<h2>Per pair</h2>",
        _pairs_table(report),
        "<h2>Monthly returns [%]</h2>",
        _monthly_table(report),
        f"<p>{len(result.trades)} closed trades: see trades.csv.</p>",
    ]
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
)


def _figure(frame: pd.DataFrame) -> go.Figure:
    rows = np.unique(np.linspace(0, len(frame) - 1, min(len(frame), CHART_POINTS)).astype(int))
    shown = frame.iloc[rows]
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.05
    )
    lines = [
        ("equity", "Equity", 1, None),
        ("buy_and_hold", "Buy & hold", 1, "dot"),
        ("drawdown_pct", "Drawdown [%]", 2, None),
        ("buy_and_hold_drawdown_pct", "Buy & hold drawdown [%]", 2, "dot"),
    ]
    for column, name, row, dash in lines:
        trace = go.Scatter(x=shown.index, y=shown[column], name=name, mode="lines")
        figure.add_trace(trace.update(line={"dash": dash}), row=row, col=1)
    figure.update_layout(height=640, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _stats_table(stats: dict) -> str:
    annualised = bool(stats.get("annualised"))
    rows = []
    for key, label in STAT_LABELS.items():
        other = BUY_AND_HOLD_KEYS.get(key)
        rows.append(
            [
                label,
                stat_text(key, stats.get(key, math.nan), annualised),
                stat_text(other, stats.get(other, math.nan), annualised) if other else "",
            ]
        )
    if not annualised:
        rows.append(["Annualised figures", SPAN_TOO_SHORT, ""])
    return _table(["", "Strategy", "Buy & hold"], rows)


def _pairs_table(report: Report) -> str:
    annualised = bool(report.stats.get("annualised"))
    keys = [k for k in PAIR_LABELS if annualised or k not in ANNUALISED_KEYS]
    rows = [
        [pair, *(stat_text(k, figures.get(k, math.nan), annualised) for k in keys)]
        for pair, figures in report.pairs.items()
    ]
    return _table(["Pair", *(PAIR_LABELS[k] for k in keys)], rows)


def _monthly_table(report: Report) -> str:
    rows = [
        [month, f"{m['strategy']:+.2f}", f"{m['buy_and_hold']:+.2f}"]
        for month, m in report.monthly.items()
    ]
    return _table(["Month", "Strategy", "Buy & hold"], rows)
