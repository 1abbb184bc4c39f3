"""Protections: small rules that each answer one question, "may a new position open now?".

A rule that says no returns a `Block` with its name, the reason and when or how it clears.
Only entries are ever blocked: exits reduce risk and always go through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

STOP_OUTS = frozenset({"stop_loss", "trailing_stop"})
# Closes a person ordered (the kill switch, a manual close): they say nothing of the strategy.
PERSON_EXITS = frozenset({"kill_switch", "manual"})


def at(ts: datetime) -> str:
    return f"{ts.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Block:
    protection: str
    reason: str
    clears: str  # when or how, in words a trader acts on
    until: datetime | None = None  # None: clears on a condition, not at a time
    pair: str | None = None  # None: every pair

    def applies_to(self, pair: str | None) -> bool:
        return self.pair is None or self.pair == pair

    def describe(self) -> str:
        return f"{self.protection}: {self.reason}; {self.clears}"


@dataclass(frozen=True)
class ClosedTrade:
    pair: str
    exit_ts: datetime
    pnl: float
    exit_reason: str


@dataclass(frozen=True)
class RiskContext:
    """What the rules read, gathered once per decision. Times are market times (the Clock)."""

    now: datetime
    pair: str | None = None
    equity: float = 0.0
    exposure: float = 0.0  # open positions at market
    pair_exposure: dict[str, float] = field(default_factory=dict)
    peak_equity: float = 0.0
    day_start_equity: float = 0.0
    recent_trades: tuple[ClosedTrade, ...] = ()  # oldest first
    recent_entries: tuple[datetime, ...] = ()
    recent_rejections: tuple[datetime, ...] = ()  # orders the broker refused or never took
    halted: bool = False
    halt_reason: str = ""
    # A kill is in force: pressed and no later re-arm succeeded, whatever became of it.
    kill_pending: bool = False
    locks: tuple[Block, ...] = ()  # stored blocks still running, reloaded after a restart


class Protection(Protocol):
    name: str

    def check(self, context: RiskContext) -> Block | None: ...


class KillSwitch:
    """Has the kill switch been pressed, or is the engine halted?"""

    name = "kill_switch"

    def check(self, context: RiskContext) -> Block | None:
        clears = "clears when the engine is re-armed on the Kill switch page"
        if context.halted:
            return Block(self.name, f"the engine is halted ({context.halt_reason})", clears)
        if context.kill_pending:
            return Block(self.name, "the kill switch was pressed", clears)
        return None


@dataclass(frozen=True)
class MaxDrawdown:
    """Is equity too far below its peak?"""

    limit: float
    pause: timedelta
    name: str = "max_drawdown"

    def check(self, context: RiskContext) -> Block | None:
        if context.peak_equity <= 0:
            return None
        drawdown = 1 - context.equity / context.peak_equity
        if drawdown < self.limit:
            return None
        until = context.now + self.pause
        return Block(
            self.name,
            f"equity {context.equity:,.2f} is {drawdown:.1%} below its peak "
            f"{context.peak_equity:,.2f} (limit {self.limit:.0%})",
            f"entries resume at {at(until)}, with the peak measured afresh from then",
            until,
        )


@dataclass(frozen=True)
class DailyLossLimit:
    """Has today (UTC, market time) lost too much?"""

    limit: float
    name: str = "daily_loss_limit"

    def check(self, context: RiskContext) -> Block | None:
        start = context.day_start_equity
        if start <= 0:
            return None
        loss = (start - context.equity) / start
        if loss < self.limit:
            return None
        midnight = datetime.combine(context.now.astimezone(UTC).date(), datetime.min.time(), UTC)
        until = midnight + timedelta(days=1)
        return Block(
            self.name,
            f"down {loss:.1%} today ({start - context.equity:,.2f}; limit {self.limit:.0%})",
            f"entries resume at {at(until)}",
            until,
        )


@dataclass(frozen=True)
class LosingStreak:
    """Have the strategy's last N trades all lost? A close a person ordered is not its trade."""

    losses: int
    cooldown: timedelta
    name: str = "losing_streak"

    def check(self, context: RiskContext) -> Block | None:
        judged = [t for t in context.recent_trades if t.exit_reason not in PERSON_EXITS]
        last = judged[-self.losses :]
        if len(last) < self.losses or any(trade.pnl >= 0 for trade in last):
            return None
        until = last[-1].exit_ts + self.cooldown
        if until <= context.now:
            return None
        return Block(
            self.name,
            f"the last {self.losses} trades all lost ({sum(t.pnl for t in last):+,.2f})",
            f"entries resume at {at(until)}",
            until,
        )


@dataclass(frozen=True)
class StopOutCooldown:
    """Was this pair stopped out a moment ago?"""

    cooldown: timedelta
    name: str = "stop_out_cooldown"

    def check(self, context: RiskContext) -> Block | None:
        pair = context.pair
        last = next((t for t in reversed(context.recent_trades) if t.pair == pair), None)
        if last is None or last.exit_reason not in STOP_OUTS:
            return None
        until = last.exit_ts + self.cooldown
        if until <= context.now:
            return None
        return Block(
            self.name,
            f"{pair} hit its {last.exit_reason.replace('_', ' ')} at {at(last.exit_ts)}",
            f"{pair} entries resume at {at(until)}",
            until,
            pair,
        )


@dataclass(frozen=True)
class MaxExposure:
    """Is there room left under the total exposure limit? (Each pair's share is capped when
    the order is sized, and a held pair is never added to.)"""

    max_total: float
    min_order_value: float
    name: str = "max_exposure"

    def check(self, context: RiskContext) -> Block | None:
        equity = context.equity
        if equity <= 0:
            return None
        room = self.max_total * equity - context.exposure
        if room >= max(self.min_order_value, 1e-9 * equity):
            return None
        return Block(
            self.name,
            f"{context.exposure / equity:.0%} of equity is in open positions "
            f"(limit {self.max_total:.0%})",
            "clears when a position closes or loses value",
        )


@dataclass(frozen=True)
class MaxTradesPerHour:
    """Have too many positions opened in the last hour?"""

    limit: int
    name: str = "max_trades_per_hour"

    def check(self, context: RiskContext) -> Block | None:
        hour = timedelta(hours=1)
        entries = sorted(ts for ts in context.recent_entries if ts > context.now - hour)
        if len(entries) < self.limit:
            return None
        until = entries[-self.limit] + hour  # then one fewer than the limit is left in the hour
        return Block(
            self.name,
            f"{len(entries)} entries in the last hour (limit {self.limit})",
            f"entries resume at {at(until)}",
            until,
        )


@dataclass(frozen=True)
class RejectionBreaker:
    """Has the broker refused or lost order after order? Then stop sending them for a while."""

    limit: int
    window: timedelta
    cooldown: timedelta
    name: str = "rejection_breaker"

    def check(self, context: RiskContext) -> Block | None:
        if not context.recent_rejections:
            return None
        latest = max(context.recent_rejections)
        burst = [ts for ts in context.recent_rejections if ts > latest - self.window]
        until = latest + self.cooldown
        if len(burst) < self.limit or until <= context.now:
            return None
        return Block(
            self.name,
            f"{len(burst)} orders refused or not placed within "
            f"{self.window.total_seconds() / 60:.0f} min (limit {self.limit})",
            f"entries resume at {at(until)}; check the broker's messages on the System page",
            until,
        )
