"""The live loop's SQLite stores copy their write-ahead log into the database between ticks,
in the worker's wait for the next candle, never inside a tick's commit (an fsync that
stalled one tick in forty)."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert

from config import load_config
from data.store.db import checkpoint, defer_checkpoints, make_engine
from data.store.models import Candle
from engine.runtime.worker import Worker
from tests.support.runs import START, sqlite_only

ROWS = 40_000  # some 5 MB of candles: past SQLite's 1000-page automatic checkpoint


def write_candles(engine) -> None:
    for first in range(0, ROWS, 5_000):
        rows = [
            {
                "pair": "BTC/USDT",
                "timeframe": "5m",
                "ts": START + timedelta(minutes=5 * i),
                "open": 1.0,
                "high": 2.0,
                "low": 0.5,
                "close": 1.5,
                "volume": 10.0,
            }
            for i in range(first, first + 5_000)
        ]
        with engine.begin() as conn:
            conn.execute(insert(Candle), rows)


@pytest.mark.parametrize("deferred", [False, True])
def test_commits_leave_the_log_to_the_checkpoint_between_ticks(tmp_path, deferred):
    path = tmp_path / "volt.db"
    engine = make_engine(f"sqlite:///{path}")
    if deferred:
        defer_checkpoints(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == (
            0 if deferred else 1000
        )
    before = path.stat().st_size
    write_candles(engine)
    if not deferred:  # SQLite's own checkpoint ran inside the commits
        assert path.stat().st_size > before
        return
    assert path.stat().st_size == before, "nothing reached the database during the commits"
    checkpoint(engine)
    assert path.stat().st_size > before + 2_000_000
    with engine.connect() as conn:  # every frame of the log is now in the database
        _busy, logged, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert logged == copied
    engine.dispose()


def test_the_worker_checkpoints_after_each_tick(store, monkeypatch):
    sqlite_only(store)
    worker = Worker(load_config(), store[1], speed=1000.0, run_for=1.5)
    stores = worker.trader.account.stores()
    assert len(stores) == 2  # the engine's store and the paper exchange's
    for engine in stores:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    ticks, upkeep = [], []
    tick, between = worker.trader.tick, worker.trader.between_ticks
    monkeypatch.setattr(worker.trader, "tick", lambda: ticks.append(1) or tick())
    monkeypatch.setattr(
        worker.trader, "between_ticks", lambda: upkeep.append(len(ticks)) or between()
    )
    assert worker.run() == 0
    assert len(ticks) >= 2
    assert upkeep == list(range(1, len(ticks) + 1)), "once after every tick"
    for engine in stores:
        with engine.connect() as conn:
            _busy, logged, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        assert logged == copied


def test_deferring_checkpoints_never_disturbs_a_thread_opening_connections(tmp_path):
    """The events writer opens connections while the worker defers its checkpoints: adding
    a listener to SQLAlchemy's deque then failed the write ("deque mutated during
    iteration")."""
    engine = make_engine(f"sqlite:///{tmp_path / 'volt.db'}")
    failures, opened, done = [], [], threading.Event()

    def open_connections() -> None:
        while not done.is_set():
            try:
                engine.pool.dispose()  # each connect is a new connection: its listeners run
                with engine.connect():
                    opened.append(1)
            except Exception as exc:  # what the events writer met
                failures.append(exc)
                return

    writer = threading.Thread(target=open_connections)
    writer.start()
    try:
        for _ in range(200):
            defer_checkpoints(engine)
            time.sleep(0.0005)
    finally:
        done.set()
        writer.join()
    assert not failures, failures[0]
    assert opened
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    engine.dispose()
