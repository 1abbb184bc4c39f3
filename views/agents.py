"""Agents: what each agent thought, how often it was right, and how much it now counts."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from data import queries
from views import decision_view, ui
from views.plain_text import plain

OUTCOMES = ["PENDING", "WIN", "LOSS", "STOPPED", "EXPIRED", "not executed"]

st.title("Agents")
cfg = ui.settings()
configured = {name: w for name, w in cfg.agents.weights.items() if w > 0}


def current_weights(history) -> dict[str, float]:
    """The latest learned weight per agent, unless the configured one changed since."""
    weights = dict(configured)
    if cfg.agents.learning.freeze or history.empty:
        return weights
    for agent, rows in history.groupby("agent"):
        last = rows.iloc[-1]
        if agent in weights and last["base"] == weights[agent]:
            weights[agent] = float(last["weight"])
    return weights


def llm_panel(state: dict) -> None:
    status = state.get("llm_status")
    st.subheader("LLM")
    if status is None:
        if "llm" in configured:
            st.info("The LLM agent has not reported yet: the engine updates this each tick.")
        else:
            st.caption(
                "The LLM agent is off. Pull a model (`ollama pull "
                f"{cfg.agents.llm.model}`) and give `llm` a weight in `[agents.weights]`."
            )
        return
    row = ui.metric_row()
    reachable = status.get("reachable")
    health = status.get("state") or (  # a worker older than the state reports only this
        "online" if reachable else "offline" if reachable is False else "not checked"
    )
    row.metric("Ollama", health, width=ui.METRIC_WIDTH)
    row.metric("Model", status.get("model") or "—", width=ui.METRIC_WIDTH)
    # From the stored votes, so the figures survive worker restarts.
    votes = ui.read(queries.llm_votes)
    latencies = [
        d.get("latency_ms") for d in votes["data"] if isinstance(d, dict) and d.get("latency_ms")
    ]
    latency = float(pd.Series(latencies).median()) if latencies else None
    row.metric(
        "Median latency", f"{latency / 1000:.1f} s" if latency else "—", width=ui.METRIC_WIDTH
    )
    rate = (votes["source"] == "abstain").mean() if not votes.empty else None
    row.metric("Abstain rate", f"{rate:.0%}" if rate is not None else "—", width=ui.METRIC_WIDTH)
    if not votes.empty:
        st.caption(f"Latency and abstain rate over its last {len(votes)} votes.")
    if health == "degraded":
        st.warning(
            f"Degraded: {status.get('recent_abstain_rate') or 0:.0%} of the last "
            f"{status.get('recent_calls')} votes abstained; mostly "
            f"{plain(status.get('dominant_reason'))}"
        )
    if status.get("offline_reason"):
        st.warning(f"Skipped while offline: {plain(status['offline_reason'])}")
    if status.get("last_error"):
        when = ui.local_time(status.get("last_error_at"))
        st.caption(f"Last error ({when}): {plain(status['last_error'])}")


def leaderboard(history) -> None:
    st.subheader("Leaderboard")
    window = cfg.agents.learning.window
    records = ui.read(queries.agent_scoreboard, window)
    weights = current_weights(history)
    rows = []
    for agent in sorted(set(configured) | set(records)):
        record = records.get(agent)
        rows.append(
            {
                "agent": agent,
                "accuracy": record.accuracy if record else None,
                "calls judged": record.samples if record else 0,
                "pnl": record.pnl_contribution if record else 0.0,
                "weight": weights.get(agent, 0.0),
                "configured weight": configured.get(agent, 0.0),
            }
        )
    board = pd.DataFrame(rows).sort_values(["accuracy", "agent"], ascending=[False, True])
    st.dataframe(
        board,
        hide_index=True,
        width="stretch",
        key="leaderboard",
        placeholder="—",
        column_config={
            "agent": "Agent",
            "accuracy": st.column_config.NumberColumn("Accuracy", format="percent"),
            "calls judged": st.column_config.NumberColumn(
                "Calls judged", help=f"its last {window} BUY or SELL votes on resolved decisions"
            ),
            "pnl": st.column_config.NumberColumn(
                f"P&L contribution ({ui.quote()})", format="%+.2f"
            ),
            "weight": st.column_config.NumberColumn("Weight now", format="%.3f"),
            "configured weight": st.column_config.NumberColumn("Configured", format="%.2f"),
        },
    )
    if cfg.agents.learning.freeze:
        st.caption("Learning is frozen (`agents.learning.freeze`): weights stay as configured.")
    elif not records:
        st.caption(
            "Accuracy appears once executed decisions resolve: a position closes, or a sale "
            f"is judged {cfg.agents.learning.sell_horizon_candles} candles later."
        )


def weights_chart(history) -> None:
    if history.empty:
        st.caption(
            f"Weights have not moved yet: each agent needs {cfg.agents.learning.min_samples} "
            "judged calls first."
        )
        return
    history = ui.localise(history, "ts")
    figure = go.Figure()
    for agent, rows in history.groupby("agent"):
        figure.add_trace(
            go.Scatter(
                x=rows["ts"],
                y=rows["weight"],
                mode="lines+markers",
                line_shape="hv",
                name=agent,
                text=rows["reason"],
                hovertemplate="%{x}<br>weight %{y:.3f}<br>%{text}<extra>" + agent + "</extra>",
            )
        )
    figure.update_layout(
        title="Weights over time",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
        yaxis_title="weight",
    )
    ui.time_axis(figure)
    st.plotly_chart(figure, width="stretch", key="weights_chart")
    latest = history.iloc[::-1].head(10)
    with st.expander("Why the weights changed"):
        ui.table(latest, ["ts", "agent", "previous", "weight", "reason"], key="weight_reasons")


def timeline() -> None:
    st.subheader("Decision timeline")
    cols = st.columns(4)
    pair = cols[0].selectbox("Pair", ["all", *cfg.market.pairs], key="agents_pair")
    agent = cols[1].selectbox("Agent", ["all", *configured], key="agents_agent")
    action = cols[2].selectbox("Decision", ["all", "BUY", "SELL", "HOLD"], key="agents_action")
    outcome = cols[3].selectbox("Outcome", ["all", *OUTCOMES], key="agents_outcome")
    chosen = {
        key: None if value == "all" else value
        for key, value in dict(pair=pair, agent=agent, action=action, outcome=outcome).items()
    }
    rows = ui.read(queries.decision_list, **chosen)
    if rows.empty:
        st.info(
            "No decisions match. The engine decides once per closed candle for every pair; "
            "widen the filters or start the engine on the Control page."
        )
        return
    rows["outcome"] = rows["outcome"].fillna(rows["executed"].map({True: "", False: "—"}))
    columns = ["candle_ts", "pair", "action", "score", "threshold", "regime", "outcome", "pnl"]
    if chosen["agent"]:
        columns += ["vote", "confidence", "rationale"]
    else:
        columns += decision_view.vote_columns(rows)
    st.caption("Click a decision to read every vote in full, the arithmetic and risk's verdict.")
    picked = decision_view.pick_decision(rows, [*columns, "result"], key="agents_timeline")
    audited = rows[rows["audit"].fillna("") != ""]
    for _, row in audited.iterrows():
        st.warning(f"Auditor on decision #{row['decision_id']} ({row['pair']}): {row['audit']}")
    decision_view.show_decision(picked)


@st.fragment(run_every=ui.refresh_every())
def agents_panel() -> None:
    state = ui.read(queries.engine_state)
    history = ui.read(queries.weight_history)
    leaderboard(history)
    weights_chart(history)
    llm_panel(state)


agents_panel()
timeline()
