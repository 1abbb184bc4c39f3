"""Shared dashboard pieces: the cached store, cached reads, formatting and the sidebar."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pandas as pd
import streamlit as st
from sqlalchemy.exc import OperationalError

from config import ConfigError, Settings, load_config
from config.timezones import display_zone, display_zone_name
from data import queries
from data.store.commands import submit_command
from data.store.db import database_url, make_engine, make_session_factory, utcnow, volt_home
from data.store.market_clock import market_time_of
from views.plain_text import plain

READ_TTL_SECONDS = 2
# Mode banners, one colour each, at the top of every page's sidebar.
MODE_BANNERS = {
    "paper": (st.info, "PAPER · simulated fills, no exchange orders"),
    "testnet": (st.warning, "TESTNET · exchange test orders, no real money"),
    "live": (st.error, "LIVE · REAL ORDERS, REAL MONEY"),
}


@st.cache_resource(show_spinner=False)
def _store(url: str):
    engine = make_engine(url)
    return engine, make_session_factory(engine)


def store():
    return _store(database_url())


@st.cache_resource(show_spinner=False)
def _settings(config_path: str) -> Settings:
    return load_config(config_path or None)


def settings() -> Settings:
    try:
        return _settings(os.environ.get("VOLT_CONFIG", ""))
    except ConfigError as exc:
        st.error(f"Configuration error: {exc}")
        st.stop()


def read(query, *args, **kwargs):
    """Run a `data.queries` function through a short-lived cache."""
    return _cached(query.__name__, database_url(), args, tuple(sorted(kwargs.items())))


@st.cache_data(ttl=READ_TTL_SECONDS, show_spinner=False)
def _cached(name: str, url: str, args: tuple, kwargs: tuple):
    return getattr(queries, name)(_store(url)[0], *args, **dict(kwargs))


def send_command(kind: str, payload: dict | None = None) -> int:
    try:
        command_id = submit_command(store()[1], kind, payload)
    except OperationalError as exc:
        # SQLite stays locked while the engine waits on the exchange inside a decision.
        logging.getLogger("volt.dashboard").exception("could not record the %s command", kind)
        st.error(
            f"The {kind} command was NOT recorded: the database is busy ({exc.orig}). The engine "
            "is probably waiting on the exchange; press again in a few seconds."
        )
        st.stop()
    _cached.clear()
    return command_id


def launch_engine_command(kind: str, command_id: int) -> None:
    """Start `python -m engine KIND --command ID` (a backtest or a strategy search) for a stored
    command; it outlives this page's rerun and writes its progress and result to the
    database. Its stderr goes to VOLT_HOME/logs/KIND.stderr.log."""
    logs = volt_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{kind}.stderr.log", "ab") as stderr:
        subprocess.Popen(
            [sys.executable, "-m", "engine", kind, "--command", str(command_id)],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )


def launch_backtest(command_id: int) -> None:
    launch_engine_command("backtest", command_id)


# A headline figure's width: "+1,234,567.89" whole. Metrics sit in a row that wraps, so on a
# narrow window (800 px) they move to a second line instead of cutting to "9,9…".
METRIC_WIDTH = 220


def metric_row():
    """A row of fixed-width metrics that wraps onto more lines on a narrow window."""
    return st.container(horizontal=True)


def metric_cells(count: int) -> list:
    """`count` fixed-width places for metrics, in a row that wraps (for st.columns' place)."""
    row = metric_row()
    return [row.container(width=METRIC_WIDTH) for _ in range(count)]


def amount(value: float, signed: bool = False) -> str:
    """Money without the currency, for metrics whose label names it."""
    return f"{value:{'+' if signed else ''},.2f}"


def quote() -> str:
    return settings().broker.quote_currency


_LABELS = {
    "ts": "Time",
    "entry_ts": "Entry time",
    "exit_ts": "Exit time",
    "candle_ts": "Candle",
    "done_ts": "Done",
    "pnl": "P&L",
    "pnl_pct": "P&L %",
    "unrealised_pnl": "Unrealised P&L",
    "id": "#",
}
_MONEY = {"value", "unrealised_pnl", "pnl", "fees", "entry_fee"}
_PRICES = {"entry_price", "exit_price", "last_price", "stop_loss", "take_profit", "price"}
_TIMES = {"ts", "entry_ts", "exit_ts", "candle_ts", "done_ts"}
# Wall-clock stamps of engine events, shown beside their market time.
_WALL_TIMES = {"wall_ts": "Wall time", "done_wall_ts": "Done, wall time"}


# Sentences: a wide column, and rows tall enough for the longest one (Streamlit wraps text
# only in rows taller than 4rem); the decision view shows a decision's text whole.
_LONG_TEXT = {"rationale", "reason", "result", "message", "clears", "question", "audit", "state"}
_SHORT_TEXT = {"exit_reason"}  # a word or two: never cut to "take_pr…"
CHARS_PER_LINE = {"large": 55, "medium": 30}  # what a column of that width holds a line
LINE_PX, MAX_LINES = 21, 8  # taller rows than 8 lines: read it in the cell's overlay
WRAPPING_ROW_PX = 66
WHOLE_UP_TO_ROWS = 15  # a wrapped table this short shows every row, with no inner scroll


def table(
    frame: pd.DataFrame,
    columns: list[str],
    key: str | None = None,
    on_select=None,
    wrap: bool = True,
) -> None:
    """A dataframe with trader-readable headers, money to the cent and local times; long
    text wraps (`wrap=False`: one line a row, where the whole text is shown elsewhere).
    `on_select`: a callback when the trader picks a row (one at a time)."""
    config = {}
    sentences = [c for c in columns if c in _LONG_TEXT]
    text_width = "large" if len(sentences) <= 2 else "medium"  # three "large" overflow
    for column in columns:
        label = _LABELS.get(column) or column.replace("_", " ").capitalize()
        label = label.replace("Llm", "LLM")
        if column in _MONEY:
            config[column] = st.column_config.NumberColumn(f"{label} ({quote()})", format="%.2f")
        elif column in _PRICES:
            config[column] = st.column_config.NumberColumn(label, format="%.4f")
        elif column == "amount":
            config[column] = st.column_config.NumberColumn(label, format="%.6f")
        elif column in ("pnl_pct", "confidence", "score", "threshold", "weight"):
            fmt = "percent" if column == "pnl_pct" else "%.2f"
            config[column] = st.column_config.NumberColumn(label, format=fmt)
        elif column in _TIMES:
            config[column] = st.column_config.DatetimeColumn(
                time_label(label), format="YYYY-MM-DD HH:mm:ss", help=clock_note()
            )
        elif column in _WALL_TIMES:
            config[column] = st.column_config.DatetimeColumn(
                f"{_WALL_TIMES[column]} ({zone_name()})", format="YYYY-MM-DD HH:mm:ss"
            )
        elif column in _LONG_TEXT:
            config[column] = st.column_config.TextColumn(label, width=text_width)
        elif column in _SHORT_TEXT:
            config[column] = st.column_config.TextColumn(label, width="medium")
        else:
            config[column] = st.column_config.Column(label)
    lines = max(
        (-(-_longest(frame[c]) // CHARS_PER_LINE[text_width]) for c in sentences), default=1
    )
    lines = min(lines, MAX_LINES) if wrap else 1
    # Streamlit wraps only in rows taller than 4rem (64 px), two lines included.
    row_height = max(WRAPPING_ROW_PX, 14 + LINE_PX * lines) if lines > 1 else None
    selection = {"on_select": on_select, "selection_mode": "single-row"} if on_select else {}
    st.dataframe(
        localise(frame, *((_TIMES | set(_WALL_TIMES)) & set(columns)))[columns],
        column_config=config,
        hide_index=True,
        width="stretch",
        key=key,
        row_height=row_height,
        height=(
            38 + len(frame) * row_height  # the header and border, then every row
            if row_height and len(frame) <= WHOLE_UP_TO_ROWS
            else "auto"
        ),
        placeholder="—",
        **selection,
    )


def _longest(texts: pd.Series) -> int:
    return int(texts.dropna().astype(str).str.len().max()) if texts.notna().any() else 0


def zone() -> tzinfo:
    """The timezone every page shows times in: `[dashboard] timezone`, daylight saving kept."""
    return display_zone(settings().dashboard.timezone)


def zone_name() -> str:
    return display_zone_name(settings().dashboard.timezone)


def market_simulated() -> bool:
    """A synthetic or replayed market runs on a simulated clock, ahead of (or behind) the wall."""
    return settings().feed.kind in ("synthetic", "replay")


def time_label(label: str = "Time") -> str:
    """A header for market times: "Time (UTC)", "Time (Europe/Berlin, simulated)"."""
    return f"{label} ({zone_name()}{', simulated' if market_simulated() else ''})"


def clock_note() -> str:
    if market_simulated():
        return f"Market time of the simulated market, in {zone_name()}; not the wall clock."
    return f"Market time, in {zone_name()}."


def local_time(ts) -> str:
    """One time as text in the dashboard's timezone, the zone named."""
    if ts is None or pd.isna(ts):
        return "—"
    if isinstance(ts, str):  # ISO text from a JSON column
        ts = pd.Timestamp(ts).to_pydatetime()
    if isinstance(ts, datetime) and ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return f"{ts.astimezone(zone()):%Y-%m-%d %H:%M:%S} {zone_name()}"


def localise(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Times in the dashboard's timezone, for tables and chart axes."""
    out = frame.copy()
    shown = zone()
    for column in columns:
        if column in out and not out.empty:
            out[column] = pd.to_datetime(out[column], utc=True).dt.tz_convert(shown)
    return out


def time_axis(figure, label: str = "Market time") -> None:
    """Name the zone (and a simulated clock) on a chart's time axis."""
    figure.update_xaxes(title_text=time_label(label))


def age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def state_line(state: dict) -> str:
    status = "halted" if state["halted"] else state["status"]
    line = f"**{status.upper()}** · last successful tick {age(state['heartbeat_age_s'])}"
    now = market_time_of(state, utcnow())
    if now is None:
        return line
    kind = "market time, simulated" if market_simulated() else "market time"
    return f"{line} · {kind} {local_time(now)}"


def market_midnight(state: dict) -> datetime:
    """The start of the trading day: midnight in the dashboard's timezone on the engine's
    market clock (ahead of the wall on a simulated market; the wall before any engine ran)."""
    now = market_time_of(state, utcnow()) or utcnow()
    return now.astimezone(zone()).replace(hour=0, minute=0, second=0, microsecond=0)


def pnl_today(state: dict) -> float | None:
    """The one "today" figure of every page (data.queries.pnl_today), fees included."""
    start = settings().broker.starting_capital
    return read(queries.pnl_today, market_midnight(state), start)


def today_label() -> str:
    return f"P&L today ({quote()})"


def replay_source(cfg: Settings) -> str:
    """Whose stored candles a replay plays back, from when."""
    start = cfg.replay.start
    since = f" from {start:%Y-%m-%d %H:%M} UTC" if start else ""
    return f"stored {cfg.replay.exchange or cfg.exchange.id} candles{since}"


def sidebar() -> None:
    with st.sidebar:
        st.fragment(sidebar_status, run_every=refresh_every())()
        st.page_link("views/kill_switch.py", label="Kill switch", icon=":material/dangerous:")


def sidebar_status() -> None:
    """Reruns on its own, so the mode, state and P&L follow the engine on every page."""
    cfg = settings()
    state = read(queries.engine_state)
    # The running engine's mode; with none running, the mode the config would start.
    mode = (state["mode"] if state["supervisor_pid"] else cfg.mode).lower()
    banner, text = MODE_BANNERS.get(mode, (st.info, mode.upper()))
    banner(f"**{text}**", icon=":material/warning:" if mode == "live" else None)
    if cfg.feed.kind == "synthetic":
        st.caption(f"Simulated market (seed {cfg.feed.seed}, clock ×{state['clock_speed']:g})")
    elif cfg.feed.kind == "replay":
        st.caption(f"REPLAY · {replay_source(cfg)}, clock ×{state['clock_speed']:g}")
    else:
        venue = f"{cfg.exchange.id} testnet" if cfg.sandbox else cfg.exchange.id
        st.caption(f"Real market data from {venue}")
    st.markdown(state_line(state))
    today = pnl_today(state)
    if today is not None:
        st.markdown(
            f"{today_label()}: **{amount(today, True)}**",
            help=f"Equity change since {local_time(market_midnight(state))} ({clock_note()})",
        )
    if state["halted"]:
        st.error(f"Halted: {plain(state['halt_reason'])}")
    elif state["status"] == "key refused":
        st.error(key_refused_line(state))


def key_refused_line(state: dict) -> str:
    """The exchange refusing the API key, as every page's sidebar says it."""
    return (
        f"**KEY REFUSED** by the exchange since {local_time(state.get('key_refused_at'))}: new "
        "entries are paused until a signed call succeeds; stops and exits that need the key "
        f"fail meanwhile. {plain(state.get('key_refused') or '')}"
    )


def refresh_every() -> float:
    return settings().dashboard.refresh_seconds
