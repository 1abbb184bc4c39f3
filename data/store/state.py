"""The single engine_state row, read and written in small transactions."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from data.store.db import transaction, utcnow
from data.store.models import EngineState, ExchangeStatus


def load_state(session: Session) -> EngineState:
    state = session.get(EngineState, 1)
    if state is None:
        state = EngineState(id=1)
        session.add(state)
        session.flush()
    return state


def read_state(factory: sessionmaker[Session]) -> EngineState:
    """A plain read: it never waits for the write lock, so a hung writer cannot block it."""
    with factory() as session:
        state = session.get(EngineState, 1)
    if state is not None:
        return state
    with transaction(factory) as session:
        return load_state(session)


def update_state(factory: sessionmaker[Session], **values) -> EngineState:
    with transaction(factory) as session:
        state = load_state(session)
        for name, value in values.items():
            setattr(state, name, value)
        state.updated_at = utcnow()
        return state


def save_exchange_status(factory: sessionmaker[Session], **values) -> None:
    with transaction(factory) as session:
        status = session.get(ExchangeStatus, 1) or ExchangeStatus(id=1)
        for name, value in values.items():
            setattr(status, name, value)
        status.updated_at = utcnow()
        session.merge(status)
