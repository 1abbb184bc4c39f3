"""Answering the dashboard's commands: each process claims the kinds in its own table of
handlers, runs one at a time and writes the outcome back to the command's row."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from data.store.commands import claim_next_command, finish_command
from data.store.events import record_event

Outcome = tuple[bool, str]  # (done, what happened in words a trader reads)
Handler = Callable[[int, dict], Outcome]  # (command id, payload) -> outcome


def answer_commands(
    factory: sessionmaker[Session],
    claimer: str,
    handlers: Mapping[str, Handler],
    kinds: Callable[[], frozenset[str]] | None = None,
    *,
    as_events: bool = False,
    on_failure: Callable[[], None] | None = None,
) -> None:
    """Claim and answer pending commands until none is left. `kinds` is asked before each
    claim (what a process takes may change with the last command); by default every kind in
    `handlers`. `as_events`: each outcome is also an event. `on_failure` runs after a handler
    raised."""
    log = logging.getLogger(f"volt.{claimer}")
    while command := claim_next_command(
        factory, kinds() if kinds else frozenset(handlers), claimer
    ):
        if as_events:
            log.info("command #%d: %s", command.id, command.kind)
        try:
            ok, result = handlers[command.kind](command.id, command.payload or {})
        except Exception as exc:
            log.exception("command %s #%d failed", command.kind, command.id)
            ok, result = False, f"{type(exc).__name__}: {exc}"
            if on_failure is not None:
                on_failure()
        finish_command(factory, command.id, ok, result)
        if as_events:
            record_event(
                factory,
                "INFO" if ok else "ERROR",
                claimer,
                f"command_{command.kind}",
                f"{command.kind} #{command.id} {'done' if ok else 'failed'}: {result}",
            )
