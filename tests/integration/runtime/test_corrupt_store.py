"""A database found corrupt while VOLT runs: `status` and `stop` still find and stop the
processes (through the lock and pid files, not the store) and name the fault in one line."""

from __future__ import annotations

import os
import signal

from tests.support.runs import run_engine
from tests.support.supervised import RunningSupervisor


def test_status_and_stop_work_on_a_corrupt_store(volt_home, fast_config, store):
    supervisor = RunningSupervisor(volt_home, fast_config, store[1])
    try:
        worker = supervisor.wait_for_ticking_worker()
        store[0].dispose()
        # Frozen, neither can copy its write-ahead log back over the header written here.
        for pid in (worker, supervisor.process.pid):
            os.kill(pid, signal.SIGSTOP)
        with open(volt_home / "volt.db", "r+b") as db:  # the header goes: not a database
            db.write(b"\x07" * 100)
        # The write-ahead log goes too: a copy of the first page in it (after a commit that
        # grew the file) would hide the broken header from a new reader.
        for log in ("volt.db-wal", "volt.db-shm"):
            (volt_home / log).unlink(missing_ok=True)
        status = run_engine("status", VOLT_HOME=str(volt_home), timeout=60)
        for pid in (worker, supervisor.process.pid):
            os.kill(pid, signal.SIGCONT)
        assert status.stderr.strip() == (
            "volt: cannot read the store: the database "
            f"{volt_home / 'volt.db'} does not answer: file is not a database"
        )
        assert status.stdout.startswith("VOLT is running"), status.stdout
        assert f"supervisor {supervisor.process.pid}" in status.stdout
        stop = run_engine("stop", VOLT_HOME=str(volt_home), timeout=60)
        assert "VOLT stopped" in stop.stdout, stop.stdout + stop.stderr
        assert supervisor.process.wait(30) is not None
    finally:
        if supervisor.process.poll() is None:
            supervisor.process.kill()
            supervisor.process.wait()
        supervisor.log.close()
