"""What an alert says: rows of the store (an event, a stop-loss trade, a protection lock, the
engine's halt, the day's figures) turned into a short title and body a trader reads on a
phone. Which rows become which kind of alert is decided here, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from risk.protections import STOP_OUTS

# The start of every title, per kind: a receiver (or a test) can tell the kinds apart.
TITLES = {
    "halted": "VOLT halted",
    "crash_loop": "VOLT crash loop",
    "worker_restarted": "VOLT worker restarted",
    "kill_switch": "VOLT kill switch",
    "stop_loss": "VOLT stop-loss",
    "protection": "VOLT protection",
    "key_refused": "VOLT API key refused",
    "daily_summary": "VOLT daily summary",
    "test": "VOLT test",
}
# A kill has alerts of its own; a full book (max_exposure) is a state, not a protection tripping.
QUIET_PROTECTIONS = frozenset({"kill_switch", "max_exposure"})
MAX_BODY = 1500  # chat services cut long messages; the events page has the rest


@dataclass(frozen=True)
class Alert:
    kind: str
    headline: str
    body: str
    severity: str = "warning"  # Apprise's notify type: info, success, warning or failure

    @property
    def title(self) -> str:
        return f"{TITLES[self.kind]}: {self.headline}"[:250]


@dataclass(frozen=True)
class EventRow:
    id: int
    level: str
    source: str
    kind: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class TradeRow:
    id: int
    pair: str
    amount: float
    entry_price: float
    exit_price: float
    pnl: float
    pnl_pct: float
    exit_reason: str


@dataclass(frozen=True)
class LockRow:
    id: int
    protection: str
    pair: str | None
    reason: str
    clears: str


@dataclass(frozen=True)
class DaySummary:
    day: date
    zone: str
    equity: float | None
    day_pnl: float | None  # equity now less equity when the day began: fees and open P&L too
    realised: float
    trades: int
    wins: int
    open_positions: list[str]
    halted: bool
    halt_reason: str
    status: str


def _tail(text: str, lines: int = 3) -> str:
    """The last lines of a traceback: the error itself, not the whole stack."""
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def is_crash_loop(event: EventRow) -> bool:
    return event.kind == "halted" and event.message.startswith("crash loop")


def from_event(event: EventRow, last_error: EventRow | None = None) -> Alert | None:
    """The alert an event stands for, or None. The alerts' own events never alert (a failing
    notifier would otherwise feed itself). `last_error`: a crash loop's last worker error."""
    if event.source == "alerts":
        return None
    if is_crash_loop(event):
        body = event.message
        if detail := _tail(event.traceback):
            body += f"\n\nLast output:\n{detail}"
        if last_error is not None:
            body += f"\n\nLast error: {last_error.message}\n{_tail(last_error.traceback)}"
        return Alert("crash_loop", "the worker keeps crashing; engine halted", body, "failure")
    if event.kind in ("worker_died", "hang") and event.source == "supervisor":
        headline = "worker hung and was replaced" if event.kind == "hang" else "worker died"
        return Alert("worker_restarted", headline, event.message, "warning")
    if event.kind == "command_kill":
        done = event.level == "INFO"
        headline = "pressed: everything closed" if done else "pressed: NOT everything closed"
        return Alert("kill_switch", headline, event.message, "warning" if done else "failure")
    if event.kind == "kill_switch" and (
        event.level in ("ERROR", "CRITICAL") or "completed by a retry" in event.message
    ):
        return Alert("kill_switch", "the flatten's retry", event.message, "failure")
    if event.kind == "key_refused":
        return Alert("key_refused", "orders and balances are refused", event.message, "failure")
    return None


def from_stop_loss(trade: TradeRow, quote: str) -> Alert | None:
    if trade.exit_reason not in STOP_OUTS:
        return None
    stop = "trailing stop" if trade.exit_reason == "trailing_stop" else "stop-loss"
    headline = f"{trade.pair} {trade.pnl:+,.2f} {quote} ({trade.pnl_pct:+.2%})"
    body = (
        f"{trade.pair} exited at its {stop}: sold {trade.amount:g} at {trade.exit_price:,.6g} "
        f"(bought at {trade.entry_price:,.6g}); P&L {trade.pnl:+,.2f} {quote} "
        f"({trade.pnl_pct:+.2%}), fees included."
    )
    return Alert("stop_loss", headline, body, "warning")


def from_protection(lock: LockRow) -> Alert | None:
    if lock.protection in QUIET_PROTECTIONS:
        return None
    where = f" on {lock.pair}" if lock.pair else ""
    headline = f"{lock.protection} blocks new entries{where}"
    return Alert("protection", headline, f"{lock.reason}; {lock.clears}. Exits still run.")


def halted(reason: str) -> Alert:
    why = reason or "no reason recorded"
    body = f"The engine halted: {why}. It trades again once re-armed on the Kill switch page."
    return Alert("halted", why, body, "failure")


def daily_summary(day: DaySummary, quote: str) -> Alert:
    def money(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+,.2f} {quote}"

    equity = "n/a" if day.equity is None else f"{day.equity:,.2f} {quote}"
    held = ", ".join(day.open_positions) or "none"
    engine = f"HALTED ({day.halt_reason})" if day.halted else day.status
    lines = [
        f"Market day {day.day.isoformat()} ({day.zone})",
        f"Equity: {equity}",
        f"P&L today: {money(day.day_pnl)} (realised {money(day.realised)}, fees included)",
        f"Trades closed: {day.trades} ({day.wins} won)",
        f"Open positions: {len(day.open_positions)} ({held})",
        f"Engine: {engine}",
    ]
    headline = f"{day.day.isoformat()} P&L {money(day.day_pnl)}"
    return Alert("daily_summary", headline, "\n".join(lines), "info")


def trial_alert(targets: int) -> Alert:
    body = f"A test from `python -m engine alert-test`: alerts reach this target ({targets} set)."
    return Alert("test", "alerts work", body, "info")
