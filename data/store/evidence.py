"""The held-out evidence a search files under a config's strategy fingerprint, the latest for
a fingerprint, and the go-live gate's verdict on it: what the engine (`engine check`, the live
confirmation, the testnet warning) and the Control page read alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from data.store.db import as_utc, make_session_factory, transaction, utcnow
from data.store.research import Evidence

MAX_EVIDENCE_AGE_DAYS = 30  # older evidence judged another market
MAX_P_VALUE = 0.1  # above it, the held-out result is too likely to be luck
MIN_HELD_OUT_TRADES = 10  # fewer: too few to tell a result from luck
# What a person types, besides LIVE, to trade live on weak evidence.
WEAK_EVIDENCE_ACKNOWLEDGEMENT = "TRADE WITHOUT EVIDENCE"
HOW_TO_GET_EVIDENCE = "python -m engine optimize --config FILE"


def _factory(store: Engine | sessionmaker[Session]) -> sessionmaker[Session]:
    return make_session_factory(store) if isinstance(store, Engine) else store


def record_evidence(store: Engine | sessionmaker[Session], **fields) -> int:
    with transaction(_factory(store)) as session:
        row = Evidence(created_at=fields.pop("created_at", None) or utcnow(), **fields)
        session.add(row)
        session.flush()
        return row.id


def latest_evidence(store: Engine | sessionmaker[Session], fingerprint: str) -> dict | None:
    with _factory(store)() as session:
        row = session.scalars(
            select(Evidence)
            .where(Evidence.fingerprint == fingerprint)
            .order_by(Evidence.created_at.desc(), Evidence.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        evidence = row.to_dict()
    for name in ("created_at", "span_start", "span_end", "held_out_start", "held_out_end"):
        evidence[name] = as_utc(evidence[name])
    return evidence


@dataclass(frozen=True)
class EvidenceVerdict:
    """The gate's reading of a config's latest evidence: weak when it is missing, old, could be
    luck (p-value), or the search that chose it is flagged as overfit."""

    fingerprint: str
    evidence: dict | None
    age_days: float | None
    reasons: list[str] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return self.evidence is not None

    @property
    def weak(self) -> bool:
        return bool(self.reasons)

    @property
    def state(self) -> str:
        """none, weak or present: the Control page's and `engine check`'s headline."""
        if not self.present:
            return "none"
        return "weak" if self.weak else "present"

    def summary(self) -> str:
        if not self.weak:
            return "held-out evidence present"
        return "; ".join(self.reasons)

    def lines(self) -> list[str]:
        """The evidence as text, one fact a line, for the terminal and the page alike."""
        head = f"Go-live evidence for strategy {self.fingerprint}: {self.state.upper()}"
        if self.evidence is None:
            return [head, f"No held-out evidence for this config: run {HOW_TO_GET_EVIDENCE}"]
        e = self.evidence
        out = [
            head,
            f"Held out {_day(e['held_out_start'])} to {_day(e['held_out_end'])}: return "
            f"{_pct(e['return_pct'])} (Sharpe {_num(e['sharpe'])}) vs buy-and-hold "
            f"{_pct(e['buy_and_hold_pct'])} (Sharpe {_num(e['buy_and_hold_sharpe'])}), "
            f"{e['trades']} trades",
            f"Chance baseline p-value: {_num(e['p_value'], '.3f')} (at most {MAX_P_VALUE:g} "
            "wanted)",
            f"Overfitting: {e['overfit_name']} {_num(e['overfit_value'], '.3f')}, "
            + ("FLAGGED as overfit" if e["overfit"] else "not flagged"),
            f"Data span {_day(e['span_start'])} to {_day(e['span_end'])}, {e['trials']} "
            + ("trial" if e["trials"] == 1 else "trials")
            + (f", from {e['source']}" if e["source"] else ""),
            f"Made {e['created_at']:%Y-%m-%d %H:%M} UTC, {self.age_days:.1f} days ago "
            f"(at most {MAX_EVIDENCE_AGE_DAYS} wanted)",
        ]
        out += [f"Weak: {reason}" for reason in self.reasons]
        return out


def evidence_verdict(
    evidence: dict | None, now: datetime, fingerprint: str | None = None
) -> EvidenceVerdict:
    """Judge one evidence row (as `latest_evidence` returns it) at `now`."""
    fingerprint = fingerprint or (evidence or {}).get("fingerprint", "")
    if evidence is None:
        missing = f"no held-out evidence for this config (run {HOW_TO_GET_EVIDENCE})"
        return EvidenceVerdict(fingerprint, None, None, [missing])
    age_days = (as_utc(now) - as_utc(evidence["created_at"])).total_seconds() / 86400
    reasons = []
    if age_days > MAX_EVIDENCE_AGE_DAYS:
        reasons.append(f"the evidence is {age_days:.0f} days old (over {MAX_EVIDENCE_AGE_DAYS})")
    p_value = evidence["p_value"]
    if p_value is None:
        reasons.append("no chance-baseline p-value (no held-out trades to judge)")
    elif p_value > MAX_P_VALUE:
        reasons.append(
            f"chance-baseline p-value {p_value:.3f} is above {MAX_P_VALUE:g}: "
            "the held-out result could be luck"
        )
    if evidence["trades"] < MIN_HELD_OUT_TRADES:
        reasons.append(
            f"only {evidence['trades']} held-out trades (at least {MIN_HELD_OUT_TRADES} wanted)"
        )
    if evidence["overfit"]:
        reasons.append(
            f"the {evidence['overfit_name']} ({_num(evidence['overfit_value'], '.3f')}) "
            "flags the search as overfit"
        )
    return EvidenceVerdict(fingerprint, evidence, age_days, reasons)


def go_live_evidence(
    store: Engine | sessionmaker[Session], fingerprint: str, now: datetime | None = None
) -> EvidenceVerdict:
    """The verdict on the latest evidence for a fingerprint, read now."""
    return evidence_verdict(latest_evidence(store, fingerprint), now or utcnow(), fingerprint)


def _day(ts: datetime) -> str:
    return f"{ts:%Y-%m-%d}"


def _pct(value: float) -> str:
    return f"{value:+.2f} %"


def _num(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)
