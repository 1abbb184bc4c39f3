"""The go-live gate: before testnet or live, what held-out evidence there is for the strategy
about to trade. Testnet without good evidence is a warning; live on weak evidence (missing,
over 30 days old, could be luck, or overfit) needs a second typed acknowledgement besides
LIVE. Paper trading never asks."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config import ConfigError, Settings
from config.fingerprint import strategy_fingerprint
from data.store.events import record_event
from data.store.evidence import WEAK_EVIDENCE_ACKNOWLEDGEMENT, EvidenceVerdict, go_live_evidence

log = logging.getLogger("volt.supervisor")
Store = Engine | sessionmaker[Session]
ACCEPT_FLAG = "--accept-weak-evidence"


def read_evidence(settings: Settings, store: Store) -> EvidenceVerdict:
    """The verdict on the latest evidence for this config's strategy, read now."""
    return go_live_evidence(store, strategy_fingerprint(settings))


def weak_evidence_refusal(verdict: EvidenceVerdict, typed: str | None) -> str:
    """Why live may not start on this evidence with what was typed; empty: it may."""
    if not verdict.weak or (typed or "").strip() == WEAK_EVIDENCE_ACKNOWLEDGEMENT:
        return ""
    return (
        f"the held-out evidence for this config is weak ({verdict.summary()}): type "
        f"{WEAK_EVIDENCE_ACKNOWLEDGEMENT} as well to trade live anyway"
    )


def add_accept_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        ACCEPT_FLAG,
        metavar="PHRASE",
        help=f"live on weak held-out evidence, this start only: {WEAK_EVIDENCE_ACKNOWLEDGEMENT}",
    )


def acknowledge_on_the_command_line(
    settings: Settings, args: argparse.Namespace, store: Store
) -> None:
    """A live start confirmed on the command line: weak evidence needs the phrase too, given
    as a flag or typed at the prompt. Raises ConfigError naming the reasons otherwise."""
    given = getattr(args, "accept_weak_evidence", None)
    if given is not None and given.strip() != WEAK_EVIDENCE_ACKNOWLEDGEMENT:
        raise ConfigError(f"{ACCEPT_FLAG}: type the phrase {WEAK_EVIDENCE_ACKNOWLEDGEMENT} exactly")
    verdict = read_evidence(settings, store)
    if not weak_evidence_refusal(verdict, given):
        return
    if given is None and sys.stdin.isatty() and not os.environ.get("VOLT_DETACHED"):
        for line in verdict.lines():
            print(f"volt: {line}", file=sys.stderr)
        try:
            given = input(f"volt: type {WEAK_EVIDENCE_ACKNOWLEDGEMENT} to trade live anyway: ")
        except EOFError:
            given = ""
    if refusal := weak_evidence_refusal(verdict, given):
        raise ConfigError(
            f"live trading not started: {refusal} (on the command line: "
            f'{ACCEPT_FLAG} "{WEAK_EVIDENCE_ACKNOWLEDGEMENT}")'
        )
    log.warning(
        "LIVE on weak held-out evidence, acknowledged: %s",
        verdict.summary(),
        extra={"kind": "go_live_evidence"},
    )


def check_report(settings: Settings, store: Store) -> list[str]:
    """`engine check`'s evidence lines for the config about to trade, and what they mean in
    its mode."""
    try:
        verdict = read_evidence(settings, store)
    except SQLAlchemyError as exc:
        return [f"Go-live evidence: the store could not be read ({type(exc).__name__})"]
    lines = verdict.lines()
    if settings.mode == "paper":
        lines.append("Paper mode: informational only; the gate applies to testnet and live")
    elif not verdict.weak:
        lines.append(f"{settings.mode.capitalize()}: the evidence passes the go-live gate")
    elif settings.mode == "testnet":
        lines.append("Testnet: trades anyway, with a warning (the gate blocks only live)")
    else:
        lines.append(
            f"Live: needs {WEAK_EVIDENCE_ACKNOWLEDGEMENT} typed as well as LIVE "
            f'({ACCEPT_FLAG} "{WEAK_EVIDENCE_ACKNOWLEDGEMENT}" or on the Control page)'
        )
    return lines


def warn_at_start(settings: Settings, factory: sessionmaker[Session]) -> EvidenceVerdict | None:
    """Supervisor start: testnet or live on weak evidence is a warning event. Paper: nothing
    is read."""
    if settings.mode == "paper":
        return None
    verdict = read_evidence(settings, factory)
    if verdict.weak:
        message = f"{settings.mode} on weak held-out evidence: {verdict.summary()}"
        record_event(factory, "WARNING", "supervisor", "go_live_evidence", message)
        log.warning(message, extra={"kind": "go_live_evidence", "skip_events": True})
    else:
        log.info("%s: held-out evidence present", settings.mode, extra={"skip_events": True})
    return verdict
