"""The dashboard asks by inserting a command row; the engine claims it and writes the outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from data.store.db import as_utc, core, transaction, utcnow
from data.store.market_clock import market_now
from data.store.models import Command

SUPERVISOR_COMMANDS = frozenset({"start", "stop", "kill", "rearm", "confirm_live", "reset_paper"})
LIVE_CONFIRMATION = "LIVE"  # the word a person types to let VOLT trade real money
RESET_CONFIRMATION = "RESET"  # the word a person types to start a fresh paper account
WORKER_COMMANDS = frozenset({"pause", "resume", "close_position"})
# Run by a `python -m engine backtest --command ID` process of its own, never by the worker.
BACKTEST_COMMANDS = frozenset({"backtest"})
# Run by a `python -m engine optimize --command ID` process; a running search stops on its run's
# `stop_optimize` (payload {"run_id": N}) after its running trials.
SEARCH_COMMANDS = frozenset({"optimize", "stop_optimize"})
ALL_COMMANDS = SUPERVISOR_COMMANDS | WORKER_COMMANDS | BACKTEST_COMMANDS | SEARCH_COMMANDS


def submit_command(factory: sessionmaker[Session], kind: str, payload: dict | None = None) -> int:
    if kind not in ALL_COMMANDS:
        raise ValueError(f"unknown command {kind!r}; known: {', '.join(sorted(ALL_COMMANDS))}")
    with transaction(factory) as session:
        wall = utcnow()
        command = Command(
            ts=wall, market_ts=market_now(session, wall), kind=kind, payload=payload or {}
        )
        session.add(command)
        session.flush()
        return command.id


def claim_next_command(
    factory: sessionmaker[Session], kinds: frozenset[str], claimer: str
) -> Command | None:
    """Atomically take the oldest pending command of these kinds, one at a time, so a process
    that dies mid-way leaves at most one command to mark as interrupted."""
    with factory() as session:
        # Polled several times a second: look before taking the write lock.
        waiting = session.scalar(
            select(Command.id).where(Command.status == "pending", Command.kind.in_(kinds)).limit(1)
        )
    if waiting is None:
        return None
    with transaction(factory) as session:
        command = session.scalar(
            select(Command)
            .where(Command.status == "pending", Command.kind.in_(kinds))
            .order_by(Command.id)
            .limit(1)
        )
        if command is None:
            return None
        taken = session.execute(
            update(Command)
            .where(Command.id == command.id, Command.status == "pending")
            .values(status="claimed", claimed_by=claimer)
        )
        return command if taken.rowcount == 1 else None


def fail_interrupted(factory: sessionmaker[Session], claimer: str) -> list[int]:
    """Commands a previous process of this kind claimed but never finished: say so."""
    with transaction(factory) as session:
        stuck = session.scalars(
            select(Command).where(Command.status == "claimed", Command.claimed_by == claimer)
        ).all()
        for command in stuck:
            command.status = "failed"
            command.result = (
                f"interrupted: the {claimer} stopped before finishing it; "
                "check the engine state and send it again"
            )
            command.done_ts = utcnow()
            command.done_market_ts = market_now(session, command.done_ts)
        return [c.id for c in stuck]


def fail_pending_before(
    factory: sessionmaker[Session], kind: str, before: datetime, result: str
) -> list[int]:
    """Commands of `kind` still waiting from before `before`: failed with `result`."""
    with transaction(factory) as session:
        stale = [
            command
            for command in session.scalars(
                select(Command).where(Command.status == "pending", Command.kind == kind)
            )
            if as_utc(command.ts) < before
        ]
        for command in stale:
            command.status, command.result, command.done_ts = "failed", result, utcnow()
            command.done_market_ts = market_now(session, command.done_ts)
        return [c.id for c in stale]


def finish_command(factory: sessionmaker[Session], command_id: int, ok: bool, result: str) -> None:
    wall = utcnow()
    with transaction(factory) as session:
        session.execute(
            update(Command)
            .where(Command.id == command_id)
            .values(
                status="done" if ok else "failed",
                result=result,
                done_ts=wall,
                done_market_ts=market_now(session, wall),
            )
        )


def get_command(factory: sessionmaker[Session], command_id: int) -> Command | None:
    with factory() as session:
        return session.get(Command, command_id)


_LATEST_KILL = select(Command.id).where(Command.kind == "kill").order_by(Command.id.desc()).limit(1)
_REARMED_AFTER = (
    select(Command.id)
    .where(Command.kind == "rearm", Command.status == "done", Command.id > bindparam("kill"))
    .limit(1)
)


def kill_in_force_id(db: Session | Connection) -> int | None:
    """The id of the latest kill command unless a later re-arm succeeded: entries stay
    blocked while it is in force, whatever its status (pending, claimed, failed,
    interrupted or done), so a kill whose halt could not be written still fails closed."""
    conn = core(db)
    kill = conn.scalar(_LATEST_KILL)
    if kill is None or conn.scalar(_REARMED_AFTER, {"kill": kill}) is not None:
        return None
    return kill


def kill_in_force(session: Session) -> Command | None:
    """The kill command in force (`kill_in_force_id`), or None."""
    kill = kill_in_force_id(session)
    return None if kill is None else session.get(Command, kill)


def requeue_interrupted_kill(factory: sessionmaker[Session]) -> Command | None:
    """A kill in force that a dead supervisor left claimed (or marked interrupted) is run
    again: it goes back to pending. Returns it, or None."""
    with transaction(factory) as session:
        kill = kill_in_force(session)
        if kill is None:
            return None
        interrupted = kill.status == "failed" and (kill.result or "").startswith("interrupted")
        if not (kill.status == "claimed" or interrupted):
            return None
        kill.status, kill.claimed_by, kill.done_ts = "pending", "", None
        kill.done_market_ts = None
        kill.result = "interrupted by a supervisor restart; running it again"
        return kill


def latest_command(factory: sessionmaker[Session], kind: str) -> Command | None:
    with factory() as session:
        return session.scalar(
            select(Command).where(Command.kind == kind).order_by(Command.id.desc()).limit(1)
        )
