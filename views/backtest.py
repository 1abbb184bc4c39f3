"""Backtest: run the live pipeline over past candles, watch it run, compare stored runs.

The page never runs a backtest itself (pages do not import the engine): it stores a
`backtest` command and starts `python -m engine backtest --command ID`, which claims it,
reports progress on its run row and stores the result; the page reads that row.
"""

from datetime import UTC, date, datetime, time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from data import queries
from data.stats.backtest_labels import STAT_LABELS
from views import ui

STAT_ROWS = {k: label for k, label in STAT_LABELS.items() if k != "final_equity"}

st.title("Backtest")
cfg = ui.settings()
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
    start = first.date_input("From", value=date(2026, 1, 15), key="backtest_from")
    end = last.date_input("To", value=date(2026, 2, 15), key="backtest_to")
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
        path = ui.save_upload(upload) if upload is not None else csv_path.strip()
        payload["data"] = [path] if path else []
        if not path:
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
chosen = st.multiselect(
    "Compare runs", list(names), default=list(names)[:3], key="backtest_compare"
)
if chosen:
    picked = done.set_index("id").loc[[names[n] for n in chosen]]
    table = pd.DataFrame(
        {
            f"#{run_id}": [picked.at[run_id, key] if key in picked else None for key in STAT_ROWS]
            for run_id in picked.index
        },
        index=list(STAT_ROWS.values()),
    )
    st.dataframe(table.astype(float).round(2), width="stretch", key="backtest_stats")

shown = st.selectbox("Run", list(names), key="backtest_run")
run = done.set_index("id").loc[names[shown]]
st.caption(
    f"{run['source']} · {run['pairs']} · decisions "
    f"{ui.local_time(pd.Timestamp(run['span_start']).to_pydatetime())} to "
    f"{ui.local_time(pd.Timestamp(run['span_end']).to_pydatetime())} · {run['llm']}"
)
cols = st.columns(5)
cols[0].metric("Return", f"{run['return_pct']:+.2f}%")
cols[1].metric("Buy & hold", f"{run['buy_and_hold_pct']:+.2f}%")
cols[2].metric("Sharpe", f"{run['sharpe']:.2f}" if pd.notna(run["sharpe"]) else "—")
cols[3].metric("Max drawdown", f"{run['max_drawdown_pct']:.2f}%")
cols[4].metric("Trades", f"{int(run['trades'])}")

curve = queries.backtest_curve(ui.store()[0], names[shown])
times = pd.to_datetime(curve.get("ts", []), utc=True)
figure = go.Figure()
figure.add_trace(go.Scattergl(x=times, y=curve.get("equity", []), name="Equity", mode="lines"))
figure.add_trace(
    go.Scattergl(
        x=times, y=curve.get("buy_and_hold", []), name="Buy & hold", mode="lines",
        line=dict(dash="dot"),
    )
)  # fmt: skip
figure.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), title="Equity curve")
st.plotly_chart(figure, width="stretch", key="backtest_equity")

trades = queries.backtest_trades(ui.store()[0], names[shown])
prices = curve.get("prices", {})
if prices:
    pair = st.selectbox("Pair", list(prices), key="backtest_pair")
    chart = go.Figure(go.Scattergl(x=times, y=prices[pair], name=pair, mode="lines"))
    marks = trades[trades["pair"] == pair] if not trades.empty else trades
    if not marks.empty:
        chart.add_trace(
            go.Scattergl(
                x=marks["entry_ts"], y=marks["entry_price"], mode="markers", name="Entry",
                marker=dict(symbol="triangle-up", size=10, color="green"),
            )
        )  # fmt: skip
        chart.add_trace(
            go.Scattergl(
                x=marks["exit_ts"], y=marks["exit_price"], mode="markers", name="Exit",
                text=marks["exit_reason"],
                marker=dict(symbol="triangle-down", size=10, color="red"),
            )
        )  # fmt: skip
    chart.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), title="Trades")
    st.plotly_chart(chart, width="stretch", key="backtest_trades_chart")
if not trades.empty:
    ui.table(trades.iloc[::-1], list(trades.columns), key="backtest_trades_table")
