"""The rows a search leaves for the dashboard: its run, each finished trial, the verdict; and
the dashboard's requests to it (an `optimize` command to start, `stop_optimize` to stop)."""

from __future__ import annotations

from sqlalchemy import Engine, func, select, update

from data.store.db import make_session_factory, transaction, utcnow
from data.store.models import Command
from data.store.research import OptimizeRun, OptimizeTrial


def start_search_run(engine: Engine, **fields) -> int:
    with transaction(make_session_factory(engine)) as session:
        run = OptimizeRun(created_at=utcnow(), **fields)
        session.add(run)
        session.flush()
        return run.id


def record_trial(engine: Engine, run_id: int, **fields) -> None:
    with transaction(make_session_factory(engine)) as session:
        session.add(OptimizeTrial(run_id=run_id, finished_at=utcnow(), **fields))


def trials_recorded(engine: Engine, run_id: int) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(
            select(func.count()).select_from(OptimizeTrial).where(OptimizeTrial.run_id == run_id)
        )


def finish_search_run(engine: Engine, run_id: int, status: str, message: str = "", **fields):
    with transaction(make_session_factory(engine)) as session:
        session.execute(
            update(OptimizeRun)
            .where(OptimizeRun.id == run_id)
            .values(status=status, message=message, finished_at=utcnow(), **fields)
        )


def claim_command(engine: Engine, command_id: int, kind: str) -> dict | None:
    """Take this command if it is still pending and of this kind; its payload, or None."""
    with transaction(make_session_factory(engine)) as session:
        taken = session.execute(
            update(Command)
            .where(Command.id == command_id, Command.kind == kind, Command.status == "pending")
            .values(status="claimed", claimed_by="optimize")
        )
        if taken.rowcount != 1:
            return None
        return dict(session.get(Command, command_id).payload or {})


def stop_requested(engine: Engine, run_id: int) -> int | None:
    """A pending `stop_optimize` command for this run: claimed and returned (its id)."""
    with transaction(make_session_factory(engine)) as session:
        pending = session.scalars(
            select(Command).where(Command.kind == "stop_optimize", Command.status == "pending")
        ).all()
        for command in pending:
            if int((command.payload or {}).get("run_id", -1)) == run_id:
                command.status, command.claimed_by = "claimed", "optimize"
                return command.id
    return None


def mark_stopping(engine: Engine, run_id: int) -> None:
    """Every search process of this run stops starting trials after its running one."""
    with transaction(make_session_factory(engine)) as session:
        session.execute(
            update(OptimizeRun)
            .where(OptimizeRun.id == run_id, OptimizeRun.status == "running")
            .values(status="stopping")
        )


def run_status(engine: Engine, run_id: int) -> str | None:
    with make_session_factory(engine)() as session:
        return session.scalar(select(OptimizeRun.status).where(OptimizeRun.id == run_id))
