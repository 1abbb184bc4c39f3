"""Tables of DESIGN.md "Data that must exist". Times are UTC; market times come from the Clock."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}

    def to_dict(self) -> dict:
        return {c.name: getattr(self, c.name) for c in self.__table__.columns}


class Candle(Base):
    __tablename__ = "candles"
    # A pair's newest candles whatever their timeframe (the Market chart, the open
    # positions' last price): the key puts the timeframe before the time.
    __table_args__ = (Index("ix_candles_pair_ts", "pair", "ts"),)
    pair: Mapped[str] = mapped_column(String(32), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_pair_candle", "pair", "candle_ts", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime]
    pair: Mapped[str] = mapped_column(String(32))
    candle_ts: Mapped[datetime]
    price: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(8))
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    regime: Mapped[str | None] = mapped_column(String(16))
    executed: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str] = mapped_column(Text, default="")
    audit: Mapped[str] = mapped_column(Text, default="")  # the auditor's findings on its fills
    votes: Mapped[list[VoteRow]] = relationship(back_populates="decision", lazy="selectin")


class VoteRow(Base):
    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    agent: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(8))
    rationale: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    decision: Mapped[Decision] = relationship(back_populates="votes")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_side_ts", "side", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), index=True)
    ts: Mapped[datetime]
    pair: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(12), default="market")
    amount: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")


class Fill(Base):
    __tablename__ = "fills"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    ts: Mapped[datetime]
    pair: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    amount: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float)


class Position(Base):
    """An open round trip (long spot). Closed ones move to `trades`."""

    __tablename__ = "positions"
    pair: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[float] = mapped_column(Float)
    entry_price: Mapped[float] = mapped_column(Float)
    entry_fee: Mapped[float] = mapped_column(Float)
    entry_ts: Mapped[datetime]
    stop_loss: Mapped[float] = mapped_column(Float)
    take_profit: Mapped[float] = mapped_column(Float)
    entry_order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    # Trailing stop: the distance kept under the highest price seen; none when off.
    trail_distance: Mapped[float | None] = mapped_column(Float)
    peak_price: Mapped[float | None] = mapped_column(Float)


class Trade(Base):
    __tablename__ = "trades"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(5), default="long")
    amount: Mapped[float] = mapped_column(Float)
    entry_ts: Mapped[datetime]
    entry_price: Mapped[float] = mapped_column(Float)
    exit_ts: Mapped[datetime] = mapped_column(index=True)
    exit_price: Mapped[float] = mapped_column(Float)
    fees: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    pnl_pct: Mapped[float] = mapped_column(Float)
    exit_reason: Mapped[str] = mapped_column(String(24))
    entry_order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    exit_order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    # Coin left unsold, below the exchange's minimum (a fee taken in the coin bought):
    # written off in this round trip, its cost in `pnl` (engine.trading.book.record_exit).
    dust: Mapped[float] = mapped_column(Float, default=0.0)
    # The broker that booked it ("paper", "binance testnet", …): an exchange account's own
    # cash counts only its own round trips, never another mode's in the same database.
    account: Mapped[str | None] = mapped_column(String(32))
    # Reconciliation saw the coin's balance back at VOLT's booked amount after this trade:
    # its dust is no longer on the account (converted or taken by the owner) and no longer
    # expected there (engine.trading.reconcile.holdings_mismatches).
    dust_gone: Mapped[bool] = mapped_column(default=False)


class JournalEntry(Base):
    """An executed decision followed to its outcome: PENDING, then WIN, LOSS, STOPPED, EXPIRED."""

    __tablename__ = "journal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), unique=True)
    pair: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float] = mapped_column(Float)  # |score| of the consensus
    entry_ts: Mapped[datetime]
    entry_price: Mapped[float] = mapped_column(Float)
    amount: Mapped[float] = mapped_column(Float)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    outcome: Mapped[str] = mapped_column(String(8), default="PENDING", index=True)
    exit_ts: Mapped[datetime | None] = mapped_column(index=True)  # recent outcomes first
    exit_price: Mapped[float | None] = mapped_column(Float)
    exit_reason: Mapped[str] = mapped_column(String(24), default="")
    pnl: Mapped[float | None] = mapped_column(Float)
    pnl_pct: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    trade_id: Mapped[int | None] = mapped_column(ForeignKey("trades.id"))


class AgentWeight(Base):
    """Every change of an agent's weight, with the reason; the latest row per agent is current."""

    __tablename__ = "agent_weights"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    agent: Mapped[str] = mapped_column(String(32), index=True)
    weight: Mapped[float] = mapped_column(Float)
    previous: Mapped[float] = mapped_column(Float)
    base: Mapped[float] = mapped_column(Float)  # the configured weight it adapts from
    accuracy: Mapped[float | None] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(Text)


class EquitySnapshot(Base):
    __tablename__ = "equity"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    equity: Mapped[float] = mapped_column(Float)
    cash: Mapped[float] = mapped_column(Float)
    positions_value: Mapped[float] = mapped_column(Float)


GENERATION_CHARACTERS, GENERATION_LENGTH = string.ascii_lowercase + string.digits, 5


def new_order_generation() -> str:
    """A new store's order generation: see `EngineState.order_generation`."""
    return "".join(secrets.choice(GENERATION_CHARACTERS) for _ in range(GENERATION_LENGTH))


class EngineState(Base):
    """One row (id=1): what the engine is doing, and what the trader asked of it."""

    __tablename__ = "engine_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    status: Mapped[str] = mapped_column(String(16), default="stopped")
    desired: Mapped[str] = mapped_column(String(16), default="running")
    entries_paused: Mapped[bool] = mapped_column(default=False)
    halted: Mapped[bool] = mapped_column(default=False)
    halt_reason: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(8), default="paper")
    feed: Mapped[str] = mapped_column(String(16), default="")
    clock_speed: Mapped[float] = mapped_column(Float, default=1.0)
    # Market seconds per tick of the running worker: how far its clock may be read ahead of
    # its last heartbeat (data.store.market_clock).
    tick_seconds: Mapped[float | None] = mapped_column(Float)
    supervisor_pid: Mapped[int | None]
    supervisor_started_at: Mapped[datetime | None]
    worker_pid: Mapped[int | None]
    worker_started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    market_time: Mapped[datetime | None]
    restarts: Mapped[int] = mapped_column(default=0)
    entry_blocks: Mapped[str | None] = mapped_column(Text)
    # The exchange refusing the API key (status "key refused"): the call and its words.
    key_refused: Mapped[str | None] = mapped_column(Text)
    key_refused_at: Mapped[datetime | None]
    sleep_inhibit: Mapped[str | None] = mapped_column(Text)
    llm_status: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime | None]
    # The high-water mark of equity since the last drawdown pause (data.store.equity_peak), so
    # no decision scans every snapshot: the peak, its start, the last snapshot folded in.
    peak_equity: Mapped[float | None] = mapped_column(Float)
    peak_equity_from: Mapped[datetime | None]
    peak_equity_id: Mapped[int | None]
    # In every client order id VOLT makes (engine.venues.binance.client_ids), new with each new
    # store: a store lost or reset while the exchange keeps its orders (volt.db deleted, the
    # paper exchange's file kept) would else derive the ids of orders already filled, and be
    # answered with those old fills. Empty in a store from before generations: its ids stay.
    order_generation: Mapped[str | None] = mapped_column(String(16), default=new_order_generation)


class ExchangeStatus(Base):
    """One row (id=1): how the exchange answered the worker lately, for the Control page."""

    __tablename__ = "exchange_status"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    exchange: Mapped[str] = mapped_column(String(32), default="")
    mode: Mapped[str] = mapped_column(String(8), default="")
    reachable: Mapped[bool | None]
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None]
    calls: Mapped[list] = mapped_column(JSON, default=list)  # the last calls: call, ms, ok, at
    balances: Mapped[dict] = mapped_column(JSON, default=dict)
    balances_from: Mapped[str] = mapped_column(String(32), default="")
    # What on the account is not VOLT's (engine.trading.holdings): balances, orders, dust.
    foreign: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime | None]


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    level: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text, default="")
    # `ts` is the wall clock; this the engine's market time then (data.store.market_clock),
    # empty before any engine ran. The two differ on a simulated or replayed market.
    market_ts: Mapped[datetime | None]


class Command(Base):
    __tablename__ = "commands"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    claimed_by: Mapped[str] = mapped_column(String(16), default="")
    result: Mapped[str] = mapped_column(Text, default="")
    done_ts: Mapped[datetime | None]
    # The market times of `ts` and `done_ts` (see Event.market_ts).
    market_ts: Mapped[datetime | None]
    done_market_ts: Mapped[datetime | None]


class SystemMetric(Base):
    __tablename__ = "system_metrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    cpu_percent: Mapped[float] = mapped_column(Float)
    cpu_temp_c: Mapped[float | None] = mapped_column(Float)
    memory_percent: Mapped[float] = mapped_column(Float)
    engine_rss_mb: Mapped[float | None] = mapped_column(Float)
    on_ac: Mapped[bool | None]
    battery_percent: Mapped[float | None] = mapped_column(Float)
    market_ts: Mapped[datetime | None]  # see Event.market_ts


class ProtectionLock(Base):
    """A protection blocking new entries: stored so it outlives a restart and shows on the
    dashboard. Open while `lifted_ts` is empty."""

    __tablename__ = "protection_locks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    protection: Mapped[str] = mapped_column(String(32))
    pair: Mapped[str | None] = mapped_column(String(32))  # empty: every pair
    reason: Mapped[str] = mapped_column(Text)
    clears: Mapped[str] = mapped_column(Text)
    ts: Mapped[datetime]  # market time it started
    until: Mapped[datetime | None]  # empty: clears on a condition, not at a time
    lifted_ts: Mapped[datetime | None] = mapped_column(index=True)


class Rejection(Base):
    """An order risk refused or the broker refused or never took, with the reason."""

    __tablename__ = "rejections"
    __table_args__ = (Index("ix_rejections_source_ts", "source", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    pair: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    source: Mapped[str] = mapped_column(String(8))  # risk | broker
    reason: Mapped[str] = mapped_column(Text)
    decision_id: Mapped[int | None]


class BacktestRun(Base):
    """One backtest: what was asked, how far it got, and its statistics when done."""

    __tablename__ = "backtest_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(Text, default="")  # "synthetic seed 42", "csv: x.csv"
    pairs: Mapped[list] = mapped_column(JSON, default=list)
    timeframe: Mapped[str] = mapped_column(String(8), default="")
    span_start: Mapped[datetime | None]
    span_end: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(12), default="running")  # running, done, failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")  # the error, when failed
    llm: Mapped[str] = mapped_column(Text, default="")  # "LLM: abstained" or "...: replayed N"
    settings: Mapped[dict] = mapped_column(JSON, default=dict)  # weights, thresholds, costs
    stats: Mapped[dict] = mapped_column(JSON, default=dict)
    # Equity and buy-and-hold, thinned to a few thousand points for the page.
    curve: Mapped[dict] = mapped_column(JSON, default=dict)
    command_id: Mapped[int | None] = mapped_column(ForeignKey("commands.id"))
    # Per-pair figures, monthly returns, the chance baseline; a walk-forward's folds.
    report: Mapped[dict | None] = mapped_column(JSON)


class BacktestTrade(Base):
    __tablename__ = "backtest_trades"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id"), index=True)
    pair: Mapped[str] = mapped_column(String(32))
    amount: Mapped[float] = mapped_column(Float)
    entry_ts: Mapped[datetime]
    entry_price: Mapped[float] = mapped_column(Float)
    exit_ts: Mapped[datetime]
    exit_price: Mapped[float] = mapped_column(Float)
    fees: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    pnl_pct: Mapped[float] = mapped_column(Float)
    exit_reason: Mapped[str] = mapped_column(String(24))


# A trade's columns in the order the pages and the CSV export show them.
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
    "dust",
]
# A round trip as a backtest stores it too: no row id, long only, no exchange dust.
ROUND_TRIP_COLUMNS = [c for c in TRADE_COLUMNS if c not in ("id", "side", "dust")]
