"""A stop exit the broker refuses: shown as a rejection, retried with backoff (not every
tick), one ERROR that says the position is unprotected, and never held back by protections."""

from __future__ import annotations

import logging

from sqlalchemy import select

from data.store.models import Position, ProtectionLock, Rejection, Trade
from engine.venues.errors import PermanentError
from tests.support.scripted import scripted_settings, scripted_trader


def test_a_refused_stop_exit_is_recorded_backed_off_and_retried_until_it_closes(tmp_path, caplog):
    closes = [100 + 0.2 * i for i in range(25)] + [80.0] * 60
    trader, clock = scripted_trader(
        tmp_path, {"BTC/USDT": closes}, {"BTC/USDT": [0] * 18 + [1]}, scripted_settings()
    )
    for _ in range(21):
        trader.tick()
        clock.advance(300)
    with trader.factory() as session:
        assert session.get(Position, "BTC/USDT") is not None
    real = trader.broker.submit
    sent = []
    refusing = True

    def refuse_sells(order, now):
        if order.side == "sell":
            sent.append(now)
            if refusing:
                raise PermanentError("MIN_NOTIONAL / insufficient balance (test)")
        return real(order, now)

    trader.broker.submit = refuse_sells
    with caplog.at_level(logging.INFO, logger="volt"):
        for _ in range(10):  # ten candles of 5 minutes
            trader.tick()
            clock.advance(300)
    # Resent after one candle, then two, then four: not every tick.
    gaps = [
        (later - earlier).total_seconds() / 60
        for earlier, later in zip(sent, sent[1:], strict=False)
    ]
    assert gaps == [5, 10, 20][: len(gaps)] and 3 <= len(sent) <= 4
    refused = len(sent)
    with trader.factory() as session:
        rows = session.scalars(select(Rejection).order_by(Rejection.id)).all()
        breaker = session.scalars(
            select(ProtectionLock).where(ProtectionLock.protection == "rejection_breaker")
        ).all()
    assert [(r.side, r.source) for r in rows] == [("sell", "broker")] * refused
    assert all("MIN_NOTIONAL" in r.reason for r in rows)
    assert breaker, "the refusals count towards the rejection breaker (for entries)"
    unprotected = [r for r in caplog.records if "UNPROTECTED" in r.getMessage()]
    assert len(unprotected) == 1 and unprotected[0].levelno == logging.ERROR
    assert "close it by hand" in unprotected[0].getMessage()

    refusing = False  # the cause was fixed; the breaker still blocks entries, not this exit
    for _ in range(12):  # the next retry is due within the hour
        trader.tick()
        clock.advance(300)
    with trader.factory() as session:
        assert session.get(Position, "BTC/USDT") is None
        trade = session.scalars(select(Trade)).one()
    assert trade.exit_reason == "stop_loss"
    assert len(sent) == refused + 1
