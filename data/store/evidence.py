"""The held-out evidence a search files under a config's strategy fingerprint, and the latest
for a fingerprint: what the go-live gate reads (the engine and the dashboard alike)."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from data.store.db import make_session_factory, transaction, utcnow
from data.store.research import Evidence


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
        return row.to_dict() if row is not None else None
