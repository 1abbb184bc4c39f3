"""System: machine health, the engine's pulse, restarts and recent events with tracebacks."""

import plotly.graph_objects as go
import streamlit as st

from config.alerts import alert_urls, mask_url
from data import queries
from views import ui
from views.plain_text import plain

st.title("System")
_alert_targets = ", ".join(mask_url(url) for url in alert_urls(ui.settings().alerts))
st.caption(f"Alerts to {_alert_targets}" if _alert_targets else "Alerts: none set (README: Alerts)")


@st.fragment(run_every=ui.refresh_every())
def system_panel() -> None:
    state = ui.read(queries.engine_state)
    metric = ui.read(queries.latest_metrics)
    cols = ui.metric_cells(4)
    cols[0].metric("Engine", "HALTED" if state["halted"] else state["status"].upper())
    cols[1].metric("Last successful tick", ui.age(state["heartbeat_age_s"]))
    cols[2].metric("Worker restarts", state["restarts"])
    cols[3].metric("Worker pid", state["worker_pid"] or "—")
    if state.get("entry_blocks"):
        st.warning(f"New entries paused: {state['entry_blocks']} (exits keep working)")
    if state.get("sleep_inhibit"):
        inhibited = state["sleep_inhibit"].startswith("sleep inhibited")
        (st.caption if inhibited else st.info)(state["sleep_inhibit"].capitalize())

    if metric is None:
        st.info(
            "No machine metrics yet. The supervisor samples them every few seconds while it "
            "runs; start VOLT with `./start.sh`."
        )
    else:
        temp = metric["cpu_temp_c"]
        if metric["on_ac"] is None:
            power = "no battery (AC)"
        elif metric["on_ac"]:
            power = f"on AC ({metric['battery_percent']:.0f}%)"
        else:
            power = f"ON BATTERY ({metric['battery_percent']:.0f}%)"
        cols = ui.metric_cells(5)
        cols[0].metric("CPU", f"{metric['cpu_percent']:.0f}%")
        cols[1].metric("CPU temperature", "no sensor" if temp is None else f"{temp:.0f} °C")
        cols[2].metric("Memory", f"{metric['memory_percent']:.0f}%")
        rss = metric["engine_rss_mb"]
        cols[3].metric("Engine worker RSS", "—" if rss is None else f"{rss:.0f} MB")
        cols[4].metric("Power", power)
        st.caption(
            f"Sampled at {ui.local_time(metric['ts'])} market time "
            f"(wall clock {ui.local_time(metric['wall_ts'])})"
        )
        history = ui.localise(ui.read(queries.metrics_history), "ts")
        if len(history) > 1:
            figure = go.Figure()
            for column, name in (
                ("cpu_percent", "CPU %"),
                ("cpu_temp_c", "CPU °C"),
                ("memory_percent", "Memory %"),
            ):
                figure.add_trace(go.Scatter(x=history["ts"], y=history[column], name=name))
            figure.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10))
            ui.time_axis(figure)
            st.plotly_chart(figure, width="stretch", key="metrics_chart")

    st.subheader("Recent events")
    only_problems = st.toggle("Warnings and errors only", key="events_problems")
    events = ui.read(queries.events, 100, "WARNING" if only_problems else None)
    if events.empty:
        st.caption("No events recorded.")
        return
    st.caption(f"{ui.time_label('Market time')}; the wall clock's in brackets where it differs.")
    for row in ui.localise(events, "ts", "wall_ts").itertuples():
        label = f"{row.ts:%Y-%m-%d %H:%M:%S}{_wall(row)} · {row.level} · {row.source} · "
        label += row.message
        if row.traceback:
            with st.expander(plain(label[:200])):  # a label renders markdown
                st.code(row.traceback, language="text")
        else:
            st.text(label)


def _wall(row) -> str:
    """An event's wall-clock stamp, where the market clock ran apart from it."""
    if abs((row.ts - row.wall_ts).total_seconds()) < 1:
        return ""
    return f" (wall {row.wall_ts:%Y-%m-%d %H:%M:%S})"


system_panel()
