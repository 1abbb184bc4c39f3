"""Backtest: run the live pipeline over past candles, watch it run, compare stored runs.

The page never runs a backtest itself (pages do not import the engine): it stores a
`backtest` command and starts `python -m engine backtest --command ID`, which claims it,
reports progress on its run row and stores the result; the page reads that row.
"""

from datetime import UTC, date, datetime, time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from data import queries
from data.stats.backtest_labels import (
    ANNUALISED_KEYS,
    MIN_ANNUALISE_DAYS,
    PAIR_LABELS,
    STAT_LABELS,
    baseline_sentence,
    stat_text,
)
from views import backtest_files, optimize, password, ui

STAT_ROWS = {k: label for k, label in STAT_LABELS.items() if k != "final_equity"}


def annualised(run) -> bool:
    """Whether the run's span allows annualised figures (runs stored before the flag: by
    their span)."""
    flag = run.get("annualised")
    if pd.notna(flag):
        return bool(flag)
    span = pd.Timestamp(run["span_end"]) - pd.Timestamp(run["span_start"])
    return span >= pd.Timedelta(days=MIN_ANNUALISE_DAYS)


st.title("Backtest")
password.require_password()  # it starts work and reads files: never open to the network
cfg = ui.settings()
view = st.radio(
    "View", ["Backtest", "Optimize"], horizontal=True, key="backtest_view",
    label_visibility="collapsed",
)  # fmt: skip
if view == "Optimize":  # the strategy search: views/optimize.py
    optimize.render(cfg)
    st.stop()
st.caption(
    "The same agents, consensus, risk gate and paper fills (fees and slippage) as live "
    "trading, on past candles as fast as the machine allows."
)

with st.form("backtest_form"):
    source = st.radio(
        "Data", ["Synthetic market", "CSV file"], horizontal=True, key="backtest_source"
    )
    left, right = st.columns(2)
    seed = left.number_input("Seed", min_value=0, value=cfg.feed.seed, key="backtest_seed")
    csv_path = right.text_input(
        "CSV file on this machine (timestamp, open, high, low, close, volume)",
        key="backtest_csv",
    )
    upload = right.file_uploader("…or upload one", type=["csv"], key="backtest_upload")
    pairs = st.multiselect(
        "Pairs (a CSV is one pair)",
        list(cfg.market.pairs),
        default=list(cfg.market.pairs)[:1],
        key="backtest_pairs",
    )
    first, last = st.columns(2)
    start = first.date_input("From (UTC day)", value=date(2026, 1, 15), key="backtest_from")
    end = last.date_input("To (UTC day)", value=date(2026, 2, 15), key="backtest_to")
    label = st.text_input("Label (optional)", key="backtest_label")
    submitted = st.form_submit_button("Run backtest", type="primary")

if submitted:
    payload = {
        "pairs": pairs,
        "start": datetime.combine(start, time(), UTC).isoformat(),
        "end": datetime.combine(end, time(), UTC).isoformat(),
        "label": label,
    }
    problem = None if pairs else "pick at least one pair"
    if source == "CSV file":
        path, problem = backtest_files.backtest_file(upload, csv_path)
        payload["data"] = [path] if path else []
        if problem is None and not path:
            problem = "give a CSV file: a path on this machine or an upload"
        elif len(pairs) != 1:
            problem = "a CSV file holds one pair: pick exactly one"
    else:
        payload["synthetic"] = int(seed)
    if problem:
        st.error(f"Cannot run: {problem}.")
    else:
        command_id = ui.send_command("backtest", payload)
        ui.launch_backtest(command_id)
        st.session_state["backtest_command"] = command_id


@st.fragment(run_every=1.0)
def running_panel() -> None:
    command_id = st.session_state.get("backtest_command")
    if command_id is None:
        return
    runs = queries.backtest_runs(ui.store()[0], limit=20)
    mine = runs[runs["command_id"] == command_id] if not runs.empty else runs
    outcome = queries.commands(ui.store()[0], limit=20, kinds=("backtest",))
    outcome = outcome[outcome["id"] == command_id] if not outcome.empty else outcome
    if not mine.empty and mine.iloc[0]["status"] == "running":
        st.progress(float(mine.iloc[0]["progress"]), text=f"Backtest #{mine.iloc[0]['id']}")
    elif not outcome.empty and outcome.iloc[0]["status"] == "failed":
        st.error(f"The backtest failed: {outcome.iloc[0]['result']}")
    elif not outcome.empty and outcome.iloc[0]["status"] == "done":
        st.success(f"Done: {outcome.iloc[0]['result']}")
        if not mine.empty and st.session_state.get("backtest_selected_for") != command_id:
            # The runs below were read before it finished: the whole page again, this run
            # selected (once, so the trader may pick another afterwards).
            st.session_state["backtest_selected_for"] = command_id
            st.session_state["backtest_select_run"] = int(mine.iloc[0]["id"])
            st.rerun(scope="app")
    else:
        st.progress(0.0, text="Starting the backtest…")


running_panel()

runs = queries.backtest_runs(ui.store()[0])
done = runs[runs["status"] == "done"] if not runs.empty else runs
if done.empty:
    st.info(
        "No backtests yet. Pick data, pairs and a span above and press **Run backtest**, "
        "or from a terminal: `python -m engine backtest --synthetic 42 --from 2026-01-15 "
        "--to 2026-02-15`."
    )
    st.stop()


def run_name(row) -> str:
    return f"#{row['id']} {row['label'] or row['source']} ({row['pairs']})"


names = {run_name(row): int(row["id"]) for _, row in done.iterrows()}
if (finished := st.session_state.pop("backtest_select_run", None)) in names.values():
    # A run this session started has just finished: show it, and compare it first.
    name = next(n for n, run_id in names.items() if run_id == finished)
    st.session_state["backtest_run"] = name
    compared = [n for n in st.session_state.get("backtest_compare", []) if n in names]
    st.session_state["backtest_compare"] = [name, *[n for n in compared if n != name]][:3]
chosen = st.multiselect(
    "Compare runs",
    list(names),
    default=None if finished in names.values() else list(names)[:3],  # set just above
    key="backtest_compare",
)
if chosen:
    picked = done.set_index("id").loc[[names[n] for n in chosen]]
    table = pd.DataFrame(
        {
            f"#{run_id}": [stat_text(key, row.get(key), annualised(row)) for key in STAT_ROWS]
            for run_id, row in picked.iterrows()
        },
        index=list(STAT_ROWS.values()),
    )
    st.dataframe(table, width="stretch", key="backtest_stats")

shown = st.selectbox("Run", list(names), key="backtest_run")
run = done.set_index("id").loc[names[shown]]
st.caption(
    f"{run['source']} · {run['pairs']} · decisions "
    f"{ui.local_time(pd.Timestamp(run['span_start']).to_pydatetime())} to "
    f"{ui.local_time(pd.Timestamp(run['span_end']).to_pydatetime())} · {run['llm']}"
)
yearly = annualised(run)


def beside(key: str, held_key: str, unit: str = "%") -> tuple[str, str | None]:
    """A figure, and buy-and-hold's as the metric's caption line."""
    mine, theirs = (stat_text(k, run.get(k), yearly) for k in (key, held_key))
    mine, theirs = (t + unit if t[-1].isdigit() else t for t in (mine, theirs))
    return mine, f"buy & hold {theirs}"


cols = ui.metric_cells(5)
cols[0].metric("Return", f"{run['return_pct']:+.2f}%")
cols[1].metric("Buy & hold", f"{run['buy_and_hold_pct']:+.2f}%")
sharpe, held_sharpe = beside("sharpe", "buy_and_hold_sharpe", "")
cols[2].metric("Sharpe", sharpe, held_sharpe, delta_color="off", delta_arrow="off")
drawdown, held_drawdown = beside("max_drawdown_pct", "buy_and_hold_max_drawdown_pct")
cols[3].metric("Max drawdown", drawdown, held_drawdown, delta_color="off", delta_arrow="off")
cols[4].metric("Trades", f"{int(run['trades'])}")

report = queries.backtest_report(ui.store()[0], names[shown])
baselines = report.get("baselines") or []
for baseline in baselines or ([None] if report else []):  # a report without one: no trades
    st.markdown(f"**{baseline_sentence(baseline)}**")
if not yearly:
    st.caption(
        f"Annualised figures (return, volatility, Sharpe, Sortino) are shown only for spans of "
        f"{MIN_ANNUALISE_DAYS:.0f} days or more."
    )

curve = queries.backtest_curve(ui.store()[0], names[shown])
times = pd.to_datetime(curve.get("ts", []), utc=True).tz_convert(ui.zone())
figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3])
lines = {"Equity": curve.get("equity", []), "Buy & hold": curve.get("buy_and_hold", [])}
if curve.get("configured"):
    lines["Configured weights"] = curve["configured"]
for name, values in lines.items():
    dash = None if name == "Equity" else "dot"
    figure.add_trace(
        go.Scatter(x=times, y=values, name=name, mode="lines", line=dict(dash=dash)), 1, 1
    )
    values = pd.Series(values, dtype=float)
    figure.add_trace(
        go.Scatter(
            x=times, y=(values / values.cummax() - 1) * 100, name=f"{name} drawdown [%]",
            mode="lines", line=dict(dash=dash), showlegend=False,
        ),
        2, 1,
    )  # fmt: skip
figure.update_layout(
    height=420, margin=dict(l=10, r=10, t=30, b=10), title="Equity curve and drawdown [%]"
)
figure.update_xaxes(title_text=f"Candle time ({ui.zone_name()})", row=2, col=1)
st.plotly_chart(figure, width="stretch", key="backtest_equity")

pairs = report.get("pairs") or {}
if pairs:
    st.subheader("Per pair")
    keys = [k for k in PAIR_LABELS if yearly or k not in ANNUALISED_KEYS]
    st.dataframe(
        pd.DataFrame(
            [[stat_text(k, figures.get(k), yearly) for k in keys] for figures in pairs.values()],
            index=list(pairs),
            columns=[PAIR_LABELS[k] for k in keys],
        ),
        width="stretch",
        key="backtest_pairs_table",
    )
monthly = report.get("monthly") or {}
if monthly:
    st.subheader("Monthly returns [%]")
    months = pd.DataFrame(monthly).T.rename(
        columns={"strategy": "Strategy", "buy_and_hold": "Buy & hold"}
    )
    st.dataframe(months.round(2), width="stretch", key="backtest_monthly")
folds = (report.get("walk_forward") or {}).get("folds") or []
if folds:
    st.subheader("Walk-forward folds")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Test window": f"{f['test'][0]} .. {f['test'][1]}",
                    "Weights": ", ".join(f"{k} {v:g}" for k, v in f["weights"].items()),
                    "Tuned return [%]": f["test_stats"]["return_pct"],
                    "Configured return [%]": f["configured_test_stats"]["return_pct"],
                }
                for f in folds
            ]
        ).round(2),
        width="stretch",
        hide_index=True,
        key="backtest_folds",
    )

trades = queries.backtest_trades(ui.store()[0], names[shown])
prices = curve.get("prices", {})
if prices:
    pair = st.selectbox("Pair", list(prices), key="backtest_pair")
    chart = go.Figure(go.Scatter(x=times, y=prices[pair], name=pair, mode="lines"))
    marks = trades[trades["pair"] == pair] if not trades.empty else trades
    if not marks.empty:
        chart.add_trace(
            go.Scatter(
                x=marks["entry_ts"], y=marks["entry_price"], mode="markers", name="Entry",
                marker=dict(symbol="triangle-up", size=10, color="green"),
            )
        )  # fmt: skip
        chart.add_trace(
            go.Scatter(
                x=marks["exit_ts"], y=marks["exit_price"], mode="markers", name="Exit",
                text=marks["exit_reason"],
                marker=dict(symbol="triangle-down", size=10, color="red"),
            )
        )  # fmt: skip
    chart.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), title="Trades")
    st.plotly_chart(chart, width="stretch", key="backtest_trades_chart")
if not trades.empty:
    ui.table(trades.iloc[::-1], list(trades.columns), key="backtest_trades_table")
