"""Live trading waits for a typed confirmation: at the prompt, or on the Control page. Only
a confirmation typed while this supervisor runs counts: one typed while the engine was down
may be days old, for another config. On weak held-out evidence (the go-live gate) the
confirmation needs a second phrase, judged on the evidence as it is when it is typed."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from data.store.commands import LIVE_CONFIRMATION, fail_pending_before, get_command
from data.store.db import as_utc, utcnow
from data.store.evidence import WEAK_EVIDENCE_ACKNOWLEDGEMENT
from data.store.state import update_state
from engine.runtime.commands import Outcome
from engine.runtime.evidence_gate import read_evidence, weak_evidence_refusal

log = logging.getLogger("volt.supervisor")
STALE_CONFIRMATION = (
    f"typed before this supervisor started, so it does not count: type {LIVE_CONFIRMATION} "
    "again on the Control page"
)


class LiveConfirmation:
    def __init__(self, settings: Settings, factory: sessionmaker[Session], confirmed: bool) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.factory = factory
        self.confirmed = confirmed or settings.mode != "live"
        self.started_at = utcnow()
        self._awaiting = False

    def refuse_stale(self) -> None:
        """At start: confirmations typed while no supervisor ran are answered as stale."""
        for command_id in fail_pending_before(
            self.factory, "confirm_live", self.started_at, STALE_CONFIRMATION
        ):
            log.warning(
                "live confirmation #%d: %s",
                command_id,
                STALE_CONFIRMATION,
                extra={"kind": "live_confirmation"},
            )

    def may_trade(self) -> bool:
        """May a worker start? Until confirmed, the first ask says why not, once."""
        if self.confirmed:
            return True
        if not self._awaiting:
            self._awaiting = True
            update_state(self.factory, status="confirm_live")
            verdict = read_evidence(self.settings, self.factory)
            also = (
                f", and {WEAK_EVIDENCE_ACKNOWLEDGEMENT} as the held-out evidence is weak "
                f"({verdict.summary()})"
                if verdict.weak
                else ""
            )
            log.warning(
                "LIVE mode: no worker starts until someone types %s on the Control page%s "
                "(or starts with: python -m engine supervise --confirm-live %s)",
                LIVE_CONFIRMATION,
                also,
                LIVE_CONFIRMATION,
                extra={"kind": "live_confirmation"},
            )
        return False

    def confirm(self, command_id: int, payload: dict) -> Outcome:
        """The `confirm_live` command: the word typed on the Control page, and on weak
        evidence the phrase (payload `accept_weak_evidence`)."""
        if self.mode != "live":
            return False, f"the engine runs in {self.mode} mode; nothing to confirm"
        command = get_command(self.factory, command_id)
        if command is None or as_utc(command.ts) < self.started_at:
            return False, STALE_CONFIRMATION
        if payload.get("typed") != LIVE_CONFIRMATION:
            return False, f"not confirmed: type {LIVE_CONFIRMATION} exactly"
        verdict = read_evidence(self.settings, self.factory)  # as it is now, not at start
        if refusal := weak_evidence_refusal(verdict, payload.get("accept_weak_evidence")):
            return False, f"not confirmed: {refusal}"
        self.confirmed = True
        log.warning(
            "LIVE trading confirmed on the dashboard: real orders from now on%s",
            f" (on weak held-out evidence: {verdict.summary()})" if verdict.weak else "",
            extra={"kind": "live_confirmation"},
        )
        return True, "live trading confirmed; the worker starts unless trading is stopped"
