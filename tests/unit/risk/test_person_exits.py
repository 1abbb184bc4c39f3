"""Closes a person ordered (the kill switch, a manual close) are not the strategy's trades:
no protection that judges the strategy by its trades counts them, however many lost."""

from datetime import UTC, datetime, timedelta

from config import load_config
from engine.wiring import build_gate
from risk.protections import PERSON_EXITS, ClosedTrade, RiskContext

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def losses(reasons) -> tuple[ClosedTrade, ...]:
    """A losing close a minute apart for each reason, the last a minute ago, on BTC/USDT."""
    n = len(reasons)
    return tuple(
        ClosedTrade("BTC/USDT", NOW - timedelta(minutes=n - i), -80.0, reason)
        for i, reason in enumerate(reasons)
    )


def blocking(trades) -> set[str]:
    gate = build_gate(load_config(None))
    context = RiskContext(
        now=NOW,
        pair="BTC/USDT",
        equity=9_500.0,
        peak_equity=9_500.0,
        day_start_equity=9_500.0,
        recent_trades=trades,
    )
    return {block.protection for block in gate.blocks(context)}


def test_losing_closes_ordered_by_a_person_trip_no_protection():
    assert {"kill_switch", "manual"} <= PERSON_EXITS  # the reasons the closes are booked with
    assert blocking(losses(["kill_switch"] * 6 + ["manual"] * 6)) == set()


def test_the_same_losses_by_the_strategy_trip_the_streak_and_the_stop_out_cooldown():
    assert blocking(losses(["signal"] * 5 + ["stop_loss"])) == {
        "losing_streak",
        "stop_out_cooldown",
    }
