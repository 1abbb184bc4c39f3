"""Builders for kill-switch tests: open positions through the real gate and paper broker, a
broker that refuses sells, and a kill pressed on an in-process supervisor."""

from pathlib import Path

from sqlalchemy import func, select

from config import load_config
from data.store.db import as_utc, transaction
from data.store.models import Position
from data.store.state import read_state
from engine.clock import FastForwardClock
from engine.trading.book import portfolio_view, record_entry
from engine.trading.execution import record_fill
from engine.trading.manual import current_price
from engine.venues.errors import PermanentError
from engine.wiring import build_account
from risk import OrderIntent


def open_positions_count(factory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Position))


def open_positions_now(factory, config: Path, pairs: list[str]) -> None:
    """Open positions through the real risk gate and paper broker, at the engine's time."""
    settings = load_config(config)
    clock = FastForwardClock(as_utc(read_state(factory).market_time))
    account = build_account(settings, factory, clock)
    for pair in pairs:
        price = current_price(account, pair, clock.now())
        intent = OrderIntent(pair, "buy", price, f"test-{pair}", "signal", atr=price * 0.01)
        with transaction(factory) as session:
            approved = account.gate.approve(intent, portfolio_view(session, account.broker, {}))
            order, fill = record_fill(
                session, account.broker.submit(approved, clock.now()), "signal", None
            )
            record_entry(session, order, fill, approved.stop_loss, approved.take_profit)


def read_state_halted(factory) -> bool:
    from data.store.state import read_state

    return read_state(factory).halted


# --- fail closed: in-process supervisor, real broker and database ---------------------------
class FlakyBroker:
    """The paper exchange, refusing sells: the first `failures` ones, or always for `pair`."""

    def __init__(self, inner, failures: int = 0, pair: str | None = None) -> None:
        self.inner, self.failures, self.pair = inner, failures, pair
        self.refused: list[str] = []
        self.sells: list[tuple[str, str]] = []  # (pair, client order id) of every sell sent

    def submit(self, order, now):
        if order.side == "sell":
            self.sells.append((order.pair, order.client_order_id))
        if order.side == "sell" and (self.failures > 0 or order.pair == self.pair):
            self.failures -= 1
            self.refused.append(order.pair)
            raise PermanentError("exchange unavailable (test)")
        return self.inner.submit(order, now)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def press_kill(supervisor, factory):
    from data.store.commands import get_command, submit_command

    command_id = submit_command(factory, "kill")
    supervisor.handle_commands()
    return get_command(factory, command_id)
