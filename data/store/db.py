"""One way to open the store: SQLite (WAL, busy timeout, BEGIN IMMEDIATE) or any SQLAlchemy URL."""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, literal
from sqlalchemy.orm import Session, sessionmaker

from data.store import account_resets, pending_orders, research  # noqa: F401  (registers their tables)
from data.store.models import Base

BUSY_TIMEOUT_MS = 15_000
SCHEMA_LOCK_KEY = 870_501  # any constant shared by all VOLT processes
# Engines whose new connections leave checkpoints to `checkpoint` (see defer_checkpoints).
_DEFERRED_CHECKPOINTS: weakref.WeakSet[Engine] = weakref.WeakSet()


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(ts: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every VOLT time is UTC."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=UTC)


def volt_home() -> Path:
    home = Path(os.environ.get("VOLT_HOME") or Path(__file__).resolve().parents[2] / "var")
    home.mkdir(parents=True, exist_ok=True)
    return home


def database_url() -> str:
    return os.environ.get("VOLT_DB_URL") or f"sqlite:///{volt_home() / 'volt.db'}"


def _tune_sqlite(engine: Engine) -> None:
    this = weakref.ref(engine)  # the listener must not keep its engine alive

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy issue BEGIN itself so writes can take the lock up front.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if this() in _DEFERRED_CHECKPOINTS:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A read that later upgrades to a write can fail with "database is locked" despite
        # the busy timeout, so write units take the lock at BEGIN. Plain reads do not: in WAL
        # mode they never wait, even while a frozen process holds the write lock.
        take_lock = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if take_lock else "BEGIN")


def defer_checkpoints(engine: Engine) -> None:
    """The live loop's commits stop copying the write-ahead log into the database file
    (with an fsync) each time the log fills, which stalled one tick in forty by some
    10 ms: `checkpoint` does it while the loop waits for the next candle. SQLite only;
    other processes' connections keep checkpointing as usual."""
    if engine.dialect.name != "sqlite":
        return
    # A flag the connect listener reads, not a listener of its own: SQLAlchemy calls an
    # engine's listeners from a deque, and adding one while another thread (the events
    # writer) opens a connection failed that write with "deque mutated during iteration".
    _DEFERRED_CHECKPOINTS.add(engine)
    engine.dispose()  # pooled connections reopen with it


def checkpoint(engine: Engine) -> None:
    """Copy what the write-ahead log holds into the database, as far as readers allow
    (PASSIVE: it never waits for them or blocks them)."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # autocommit: a checkpoint cannot run in a transaction
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        cursor.close()
    finally:
        raw.close()


def make_engine(url: str | None = None, metadata: MetaData | None = None) -> Engine:
    """Open a store and create its tables (VOLT's own unless `metadata` says otherwise)."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _tune_sqlite(engine)
    else:
        # A server that swallows packets is given up on, not waited for forever (libpq's
        # default); `status`, `stop` and a reconnecting worker say so instead of hanging.
        connect_args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # Serialise schema changes between processes starting together.
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")
        (metadata or Base.metadata).create_all(conn)
        _add_missing_columns(conn, metadata or Base.metadata)
        _add_missing_indexes(conn, metadata or Base.metadata)
    return engine


def _add_missing_indexes(conn, metadata: MetaData) -> None:
    """An index added to a model is built on an existing table too (create_all only builds
    the indexes of the tables it creates)."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                index.create(conn)


def _add_missing_columns(conn, metadata: MetaData) -> None:
    """Additive schema changes: a column added to a model is added to an existing table, so a
    database from an earlier version keeps working. Such columns must be nullable."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            default = ""
            if column.default is not None and column.default.is_scalar:
                value = literal(column.default.arg, column.type)
                rendered = value.compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                default = f" DEFAULT {rendered}"  # existing rows get the value, not NULL
            elif not column.nullable:
                raise RuntimeError(
                    f"{table.name}.{column.name}: a new column must be nullable or have a default"
                )
            conn.exec_driver_sql(
                f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{default}'
            )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def core(db: Session | Connection) -> Connection:
    """The connection under `db`, for reads the live loop makes every tick: a prebuilt
    statement run on it costs a tenth of building it and running it through the ORM.
    A session's pending changes are flushed first, as the ORM's autoflush would."""
    if isinstance(db, Session):
        db.flush()
        return db.connection()
    return db


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back and re-raises on any error."""
    with factory() as session, session.begin():
        session.connection(execution_options={"immediate": True})
        yield session
