"""Read-only queries the dashboard renders. Each returns plain data; pages never touch SQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, Engine, String, bindparam, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from data.risk_levels import peak_mark, stored_peak
from data.store.db import as_utc, utcnow
from data.store.models import (
    AgentWeight,
    BacktestRun,
    BacktestTrade,
    Candle,
    Command,
    Decision,
    EngineState,
    EquitySnapshot,
    Event,
    ExchangeStatus,
    JournalEntry,
    Position,
    ProtectionLock,
    Rejection,
    SystemMetric,
    Trade,
    VoteRow,
)

TRADE_COLUMNS = [
    "id",
    "pair",
    "side",
    "amount",
    "entry_ts",
    "entry_price",
    "exit_ts",
    "exit_price",
    "fees",
    "pnl",
    "pnl_pct",
    "exit_reason",
]
# A round trip as a backtest stores it too: no row id, long only.
ROUND_TRIP_COLUMNS = [c for c in TRADE_COLUMNS if c not in ("id", "side")]


def _frame(engine: Engine, statement, columns: list[str] | None = None) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(statement)
        # Plain tuples: pandas probing each Row's attributes costs seconds on 100k rows.
        rows = [tuple(row) for row in result.fetchall()]
        frame = pd.DataFrame(rows, columns=list(result.keys()))
    if frame.empty and columns:
        frame = pd.DataFrame(columns=columns)
    for column in frame.columns:
        if column == "ts" or column.endswith("_ts") or column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _default_state() -> dict:
    """What an engine that never ran looks like: the column defaults, before any insert."""
    return {
        column.name: column.default.arg if column.default is not None else None
        for column in EngineState.__table__.columns
    }


def engine_state(engine: Engine) -> dict:
    with Session(engine) as session:
        state = session.get(EngineState, 1)
        values = state.to_dict() if state else _default_state()
    for key in ("heartbeat_at", "market_time", "worker_started_at", "supervisor_started_at"):
        values[key] = as_utc(values.get(key))
    values["heartbeat_age_s"] = (
        (utcnow() - values["heartbeat_at"]).total_seconds() if values["heartbeat_at"] else None
    )
    return values


def exchange_status(engine: Engine) -> dict | None:
    """What the worker last saw of the exchange; None when no exchange is in use."""
    with Session(engine) as session:
        status = session.get(ExchangeStatus, 1)
        values = status.to_dict() if status else None
    if values:
        for key in ("last_ok_at", "last_error_at", "updated_at"):
            values[key] = as_utc(values.get(key))
    return values


def trades(engine: Engine) -> pd.DataFrame:
    """Every trade (the CSV export's 100k rows): times come as the database gives them and
    pandas parses them all at once, not SQLAlchemy one value at a time."""
    columns = [_raw_time(getattr(Trade, name)) for name in TRADE_COLUMNS]
    return _frame(engine, select(*columns).order_by(Trade.id), TRADE_COLUMNS)


def _raw_time(column):
    if isinstance(column.type, DateTime):
        return type_coerce(column, String).label(column.key)
    return column


def trade_summary(engine: Engine) -> dict:
    """Count, wins, net P&L and fees of every closed trade, summed by the database."""
    statement = select(
        func.count(Trade.id),
        func.coalesce(func.sum(case((Trade.pnl > 0, 1), else_=0)), 0),
        func.coalesce(func.sum(Trade.pnl), 0.0),
        func.coalesce(func.sum(Trade.fees), 0.0),
    )
    with engine.connect() as conn:
        count, wins, pnl, fees = conn.execute(statement).one()
    return {"trades": int(count), "wins": int(wins), "pnl": float(pnl), "fees": float(fees)}


def latest_trades(engine: Engine, limit: int) -> pd.DataFrame:
    """The newest `limit` trades, newest first: what the Trades page shows."""
    columns = [getattr(Trade, name) for name in TRADE_COLUMNS]
    statement = select(*columns).order_by(Trade.id.desc()).limit(limit)
    return _frame(engine, statement, TRADE_COLUMNS)


def trades_csv(frame: pd.DataFrame) -> bytes:
    """Times as ISO text to the second, prices to 10 significant digits; formatted column
    by column (pandas' per-value formatting took seconds on 100k trades)."""
    out = frame.copy()
    if out.empty:
        return out.to_csv(index=False, float_format="%.10g").encode()
    for column in ("entry_ts", "exit_ts"):
        if column in out:
            out[column] = _iso_seconds(out[column])
    for column in out.columns:
        if out[column].dtype == "float64":
            values = out[column].to_numpy()
            text = np.array([f"{value:.10g}" for value in values.tolist()], dtype=object)
            text[np.isnan(values)] = ""  # as to_csv writes a missing value
            out[column] = text
    return out.to_csv(index=False).encode()


def _iso_seconds(times: pd.Series) -> pd.Series:
    """`times.dt.strftime("%Y-%m-%dT%H:%M:%S%z")`, vectorised for UTC times."""
    if str(times.dt.tz) != "UTC":
        return times.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    seconds = times.dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    text = np.char.add(np.datetime_as_string(seconds, unit="s"), "+0000").astype(object)
    text[np.isnat(seconds)] = np.nan
    return pd.Series(text, index=times.index, dtype=object)


def open_positions(engine: Engine) -> pd.DataFrame:
    latest = select(Candle.pair, func.max(Candle.ts).label("ts")).group_by(Candle.pair).subquery()
    statement = (
        select(
            Position.pair,
            Position.amount,
            Position.entry_price,
            Position.entry_ts,
            Position.stop_loss,
            Position.take_profit,
            Position.entry_fee,
            Candle.close.label("last_price"),
        )
        .outerjoin(latest, latest.c.pair == Position.pair)
        .outerjoin(Candle, (Candle.pair == latest.c.pair) & (Candle.ts == latest.c.ts))
        .order_by(Position.pair)
    )
    frame = _frame(engine, statement, ["pair", "amount", "entry_price", "last_price"])
    if not frame.empty:
        frame["last_price"] = frame["last_price"].fillna(frame["entry_price"])
        frame["value"] = frame["amount"] * frame["last_price"]
        cost = frame["amount"] * frame["entry_price"] + frame["entry_fee"]
        frame["unrealised_pnl"] = frame["value"] - cost
    return frame


def equity_curve(engine: Engine, limit: int = 5000) -> pd.DataFrame:
    statement = (
        select(EquitySnapshot.ts, EquitySnapshot.equity, EquitySnapshot.cash)
        .order_by(EquitySnapshot.id.desc())
        .limit(limit)
    )
    return _frame(engine, statement, ["ts", "equity", "cash"]).iloc[::-1]


def realised_pnl(engine: Engine, since: datetime | None = None) -> float:
    statement = select(func.coalesce(func.sum(Trade.pnl), 0.0))
    if since is not None:
        statement = statement.where(Trade.exit_ts >= since)
    with engine.connect() as conn:
        return float(conn.execute(statement).scalar_one())


def equity_change_since(engine: Engine, since: datetime) -> float | None:
    """Equity now less equity at `since` (the last snapshot before it, else the first after);
    None before any snapshot."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(EquitySnapshot.equity).order_by(EquitySnapshot.id.desc()).limit(1)
        ).scalar()
        if latest is None:
            return None
        before = conn.execute(
            select(EquitySnapshot.equity)
            .where(EquitySnapshot.ts <= since)
            .order_by(EquitySnapshot.ts.desc())
            .limit(1)
        ).scalar()
        if before is None:
            before = conn.execute(
                select(EquitySnapshot.equity).order_by(EquitySnapshot.ts).limit(1)
            ).scalar()
    return float(latest - before)


def candles(engine: Engine, pair: str, limit: int = 300) -> pd.DataFrame:
    statement = (
        select(Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume)
        .where(Candle.pair == pair)
        .order_by(Candle.ts.desc())
        .limit(limit)
    )
    frame = _frame(engine, statement, ["ts", "open", "high", "low", "close", "volume"])
    return frame.iloc[::-1].set_index("ts")


def trade_markers(engine: Engine, pair: str, since: datetime) -> pd.DataFrame:
    statement = select(
        Trade.entry_ts,
        Trade.entry_price,
        Trade.exit_ts,
        Trade.exit_price,
        Trade.exit_reason,
        Trade.pnl,
    ).where(Trade.pair == pair, Trade.exit_ts >= since)
    return _frame(engine, statement, ["entry_ts", "entry_price", "exit_ts", "exit_price"])


def latest_metrics(engine: Engine) -> dict | None:
    with Session(engine) as session:
        metric = session.scalar(select(SystemMetric).order_by(SystemMetric.id.desc()).limit(1))
        return metric.to_dict() if metric else None


def metrics_history(engine: Engine, hours: float = 6) -> pd.DataFrame:
    statement = (
        select(
            SystemMetric.ts,
            SystemMetric.cpu_percent,
            SystemMetric.cpu_temp_c,
            SystemMetric.memory_percent,
            SystemMetric.engine_rss_mb,
        )
        .where(SystemMetric.ts >= utcnow() - timedelta(hours=hours))
        .order_by(SystemMetric.ts)
    )
    return _frame(engine, statement, ["ts", "cpu_percent", "cpu_temp_c"])


def events(engine: Engine, limit: int = 100, min_level: str | None = None) -> pd.DataFrame:
    statement = select(Event).order_by(Event.id.desc()).limit(limit)
    if min_level == "WARNING":
        statement = statement.where(Event.level.in_(("WARNING", "ERROR", "CRITICAL")))
    columns = ["id", "ts", "level", "source", "kind", "message", "traceback"]
    statement = statement.with_only_columns(*[getattr(Event, c) for c in columns])
    return _frame(engine, statement, columns)


def commands(engine: Engine, limit: int = 20, kinds: tuple[str, ...] = ()) -> pd.DataFrame:
    columns = ["id", "ts", "kind", "payload", "status", "result", "done_ts"]
    statement = select(*[getattr(Command, c) for c in columns]).order_by(Command.id.desc())
    if kinds:
        statement = statement.where(Command.kind.in_(kinds))
    return _frame(engine, statement.limit(limit), columns)


def resolved_votes(engine: Engine, since_id: int = 0) -> pd.DataFrame:
    """Every vote on a resolved journal decision: what the agents' records are made of."""
    statement = (
        select(
            JournalEntry.decision_id,
            JournalEntry.exit_ts.label("resolved_at"),
            JournalEntry.outcome,
            JournalEntry.action.label("decision_action"),
            JournalEntry.pnl,
            VoteRow.agent,
            VoteRow.action,
            VoteRow.confidence,
            VoteRow.weight,
            VoteRow.source,
        )
        .join(VoteRow, VoteRow.decision_id == JournalEntry.decision_id)
        .where(JournalEntry.outcome != "PENDING", JournalEntry.id > since_id)
        .order_by(JournalEntry.exit_ts, JournalEntry.id)
    )
    return _frame(engine, statement, ["decision_id", "resolved_at", "outcome", "agent"])


_RESOLVED_NEWEST = (
    select(
        JournalEntry.id,
        JournalEntry.exit_ts,
        JournalEntry.decision_id,
        JournalEntry.action,
        JournalEntry.outcome,
        JournalEntry.pnl,
    )
    .where(JournalEntry.outcome != "PENDING")
    .order_by(JournalEntry.exit_ts.desc(), JournalEntry.id.desc())
    .limit(bindparam("batch"))
)
_RESOLVED_BEFORE = _RESOLVED_NEWEST.where(
    or_(
        JournalEntry.exit_ts < bindparam("ts"),
        (JournalEntry.exit_ts == bindparam("ts")) & (JournalEntry.id < bindparam("id")),
    )
)
_CALLS_ON = select(VoteRow.decision_id, VoteRow.agent, VoteRow.action).where(
    VoteRow.decision_id.in_(bindparam("decisions", expanding=True)),
    VoteRow.source != "abstain",
    VoteRow.action.in_(("BUY", "SELL")),
)


def recent_calls(
    engine: Engine, agents: list[str], window: int, batch: int = 200
) -> dict[str, list[tuple]]:
    """Each agent's last `window` resolved calls (BUY or SELL, not abstaining), oldest
    first, as (vote action, decision action, outcome, P&L): all that the agents' accuracy
    reads (`data.scorecard.call_records`). The live tick learns from an outcome, so this
    reads the newest outcomes a batch at a time (by the exit time index) and their votes
    (by decision), never a scan of every vote."""
    calls: dict[str, list[tuple]] = {agent: [] for agent in agents}
    wanted = set(agents)
    with engine.connect() as conn:
        entries = conn.execute(_RESOLVED_NEWEST, {"batch": batch}).all()
        while entries and wanted:
            ids = [entry.decision_id for entry in entries]
            votes: dict[int, dict[str, str]] = {}
            for decision_id, agent, action in conn.execute(_CALLS_ON, {"decisions": ids}):
                votes.setdefault(decision_id, {})[agent] = action
            for entry in entries:
                called = votes.get(entry.decision_id, {})
                for agent in [a for a in called if a in wanted]:
                    calls[agent].append((called[agent], entry.action, entry.outcome, entry.pnl))
                    if len(calls[agent]) == window:
                        wanted.discard(agent)
            last = entries[-1]
            params = {"batch": batch, "ts": last.exit_ts, "id": last.id}
            entries = conn.execute(_RESOLVED_BEFORE, params).all() if wanted else []
    return {agent: rows[::-1] for agent, rows in calls.items() if rows}


def agent_timeline(
    engine: Engine,
    pair: str | None = None,
    agent: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """Decisions with each agent's vote and the journal outcome, newest first, filtered.

    `outcome` is a journal outcome (PENDING, WIN, ...), or "not executed"."""
    latest = select(Decision.id).order_by(Decision.id.desc())
    if pair:
        latest = latest.where(Decision.pair == pair)
    if action:
        latest = latest.where(Decision.action == action)
    if outcome == "not executed":
        latest = latest.where(Decision.executed.is_(False))
    elif outcome:
        latest = latest.join(JournalEntry, JournalEntry.decision_id == Decision.id).where(
            JournalEntry.outcome == outcome
        )
    statement = (
        select(
            Decision.id.label("decision_id"),
            Decision.candle_ts,
            Decision.pair,
            Decision.action,
            Decision.score,
            Decision.threshold,
            Decision.regime,
            Decision.price,
            Decision.executed,
            Decision.outcome.label("result"),
            Decision.audit,
            JournalEntry.outcome,
            JournalEntry.pnl,
            VoteRow.agent,
            VoteRow.action.label("vote"),
            VoteRow.confidence,
            VoteRow.weight,
            VoteRow.source,
            VoteRow.rationale,
        )
        .join(VoteRow, VoteRow.decision_id == Decision.id)
        .outerjoin(JournalEntry, JournalEntry.decision_id == Decision.id)
        .where(Decision.id.in_(latest.limit(limit).scalar_subquery()))
        .order_by(Decision.id.desc(), VoteRow.agent)
    )
    if agent:
        statement = statement.where(VoteRow.agent == agent)
    return _frame(engine, statement, ["decision_id", "pair", "agent", "vote", "rationale"])


def journal(engine: Engine, limit: int | None = None) -> pd.DataFrame:
    """The decision journal, newest first."""
    table = JournalEntry.__table__
    statement = select(*table.columns).order_by(JournalEntry.id.desc())
    if limit:
        statement = statement.limit(limit)
    return _frame(engine, statement, [c.name for c in table.columns])


def weight_history(engine: Engine) -> pd.DataFrame:
    columns = ["ts", "agent", "weight", "previous", "base", "accuracy", "samples", "reason"]
    statement = select(*(getattr(AgentWeight, c) for c in columns)).order_by(AgentWeight.id)
    return _frame(engine, statement, columns)


def llm_votes(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """The LLM agent's latest votes, for its abstain rate and latency."""
    statement = (
        select(VoteRow.source, VoteRow.data, VoteRow.rationale, Decision.ts)
        .join(Decision, Decision.id == VoteRow.decision_id)
        .where(VoteRow.agent == "llm")
        .order_by(VoteRow.id.desc())
        .limit(limit)
    )
    return _frame(engine, statement, ["source", "data", "rationale", "ts"])


def risk_now(conn) -> datetime:
    """The engine's market time (locks and pauses are in market time), else the wall clock."""
    market = conn.execute(select(EngineState.market_time).where(EngineState.id == 1)).scalar()
    return as_utc(market) or utcnow()


def equity_and_peak(engine: Engine) -> dict:
    """The latest equity snapshot and the peak the drawdown limit measures from: the same
    as the engine's, i.e. since the last drawdown pause ended."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(EquitySnapshot.equity).order_by(EquitySnapshot.id.desc()).limit(1)
        ).scalar()
        state = conn.execute(select(EngineState).where(EngineState.id == 1)).first()
        mark = peak_mark(conn, risk_now(conn), stored_peak(state))
    return {"equity": latest, "peak": mark.peak}


def protection_locks(engine: Engine) -> pd.DataFrame:
    """Protections blocking new entries now (as of the engine's last tick): a lock whose
    end time has passed no longer blocks, even before the engine lifts it."""
    columns = ["protection", "pair", "reason", "clears", "ts", "until"]
    with engine.connect() as conn:
        now = risk_now(conn)
    statement = (
        select(*[getattr(ProtectionLock, c) for c in columns])
        .where(
            ProtectionLock.lifted_ts.is_(None),
            or_(ProtectionLock.until.is_(None), ProtectionLock.until > now),
        )
        .order_by(ProtectionLock.id)
    )
    return _frame(engine, statement, columns)


def rejections(engine: Engine, limit: int = 20) -> pd.DataFrame:
    columns = ["id", "ts", "pair", "side", "source", "reason"]
    statement = select(*[getattr(Rejection, c) for c in columns]).order_by(Rejection.id.desc())
    return _frame(engine, statement.limit(limit), columns)


def backtest_runs(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """Stored backtests, newest first, each with its statistics as columns."""
    statement = select(BacktestRun).order_by(BacktestRun.id.desc()).limit(limit)
    with Session(engine) as session:
        runs = session.scalars(statement).all()
        rows = [
            {
                "id": run.id,
                "created_at": as_utc(run.created_at),
                "label": run.label,
                "source": run.source,
                "pairs": ", ".join(run.pairs or []),
                "span_start": as_utc(run.span_start),
                "span_end": as_utc(run.span_end),
                "status": run.status,
                "progress": run.progress,
                "message": run.message,
                "llm": run.llm,
                "command_id": run.command_id,
                **(run.stats or {}),
            }
            for run in runs
        ]
    return pd.DataFrame(rows, columns=None if rows else ["id", "status", "progress"])


def backtest_curve(engine: Engine, run_id: int) -> dict:
    with Session(engine) as session:
        run = session.get(BacktestRun, run_id)
        return dict(run.curve or {}) if run else {}


def backtest_trades(engine: Engine, run_id: int) -> pd.DataFrame:
    columns = ROUND_TRIP_COLUMNS
    statement = (
        select(*[getattr(BacktestTrade, c) for c in columns])
        .where(BacktestTrade.run_id == run_id)
        .order_by(BacktestTrade.exit_ts)
    )
    return _frame(engine, statement, columns)
