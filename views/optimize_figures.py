"""The Optimize view's tables and charts, built from the stored rows alone (no Streamlit here):
the trials table, the parameter importances, the in-sample vs held-out scatter and the
held-out comparison."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from config.search_space import OBJECTIVE_LABELS

COMPARISON_COLUMNS = {
    "objective": "Objective",
    "return_pct": "Return [%]",
    "sharpe": "Sharpe",
    "max_drawdown_pct": "Max drawdown [%]",
    "trades": "Trades",
    "p_value": "Chance p",
}


def objective_label(objective: str) -> str:
    return OBJECTIVE_LABELS.get(objective, objective)


def trials_table(trials: pd.DataFrame, objective: str) -> pd.DataFrame:
    """One row a finished trial, its parameters as columns named by their dotted setting."""
    label = objective_label(objective)
    params = pd.DataFrame(list(trials["params"]), index=trials.index)
    table = pd.DataFrame(
        {
            "Trial": trials["number"],
            "State": trials["state"],
            f"In-sample {label}": trials["in_sample"],
            f"Held-out {label}": trials["held_out"],
            "Held-out return [%]": trials["held_out_return_pct"],
            "Held-out trades": trials["held_out_trades"],
        }
    )
    return pd.concat([table, params.round(4)], axis=1)


def importance_figure(importances: dict[str, float]) -> go.Figure:
    """Optuna's parameter importances, the most important on top."""
    ranked = sorted(importances.items(), key=lambda item: item[1])
    figure = go.Figure(
        go.Bar(
            x=[value for _, value in ranked],
            y=[name for name, _ in ranked],
            orientation="h",
            name="importance",
        )
    )
    figure.update_layout(
        height=max(240, 26 * len(ranked) + 80),
        margin=dict(l=10, r=10, t=40, b=10),
        title="Parameter importance (share of the objective's variance)",
        xaxis_title="importance",
    )
    return figure


def scatter_figure(trials: pd.DataFrame, best_number: int | None, objective: str) -> go.Figure:
    """Each complete trial's objective in sample against held out. Points far below the y = x
    line did well on the data searched and badly on the data never seen: the search fitted
    the past."""
    label = objective_label(objective)
    complete = trials[
        (trials["state"] == "complete") & trials["in_sample"].notna() & trials["held_out"].notna()
    ]
    chosen = complete[complete["number"] == best_number]
    others = complete[complete["number"] != best_number]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=others["in_sample"].tolist(),
            y=others["held_out"].tolist(),
            mode="markers",
            name="trial",
            text=[f"trial #{n}" for n in others["number"]],
            marker=dict(size=8, opacity=0.6),
        )
    )
    if not chosen.empty:
        figure.add_trace(
            go.Scatter(
                x=chosen["in_sample"].tolist(),
                y=chosen["held_out"].tolist(),
                mode="markers",
                name=f"chosen (trial #{best_number})",
                marker=dict(size=16, symbol="star", color="crimson"),
            )
        )
    values = [v for v in [*complete["in_sample"], *complete["held_out"]] if math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    figure.add_trace(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="held out = in sample",
            line=dict(dash="dot", color="grey"),
        )
    )
    figure.update_layout(
        height=420,
        margin=dict(l=10, r=10, t=40, b=10),
        title=f"In-sample vs held-out {label}",
        xaxis_title=f"in sample (the folds searched): {label}",
        yaxis_title=f"held out (never searched): {label}",
    )
    return figure


def comparison_table(summary: dict) -> pd.DataFrame:
    """The chosen parameters, the configured defaults and buy-and-hold on the held-out window."""
    chosen, defaults = summary.get("chosen") or {}, summary.get("defaults") or {}
    rows = {
        f"trial #{summary.get('best_number')} (chosen)": chosen,
        "defaults (the running config)": defaults,
        "buy & hold": {
            "return_pct": defaults.get("buy_and_hold_pct"),
            "sharpe": defaults.get("buy_and_hold_sharpe"),
        },
    }
    return pd.DataFrame(
        [[_number(figures.get(key)) for key in COMPARISON_COLUMNS] for figures in rows.values()],
        index=list(rows),
        columns=list(COMPARISON_COLUMNS.values()),
    )


def recommends_chosen(summary: dict, best_params: dict) -> bool:
    """Whether the search's own verdict is to use the chosen parameters: they beat the
    defaults held out and the overfitting measure does not flag the search."""
    overfit = (summary.get("overfitting") or {}).get("overfit", True)
    return bool(best_params) and bool(summary.get("beats_defaults")) and not overfit


def _number(value) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)
