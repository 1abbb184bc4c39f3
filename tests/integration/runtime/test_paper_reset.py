"""Resetting the paper account: a fresh account at the starting capital, history kept and
marked, the risk limits measured from the new capital. Run in-process on the real store."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from config import load_config
from data.store.account_resets import AccountReset
from data.store.commands import get_command, submit_command
from data.store.models import Decision, EquitySnapshot, Event, Trade
from data.store.state import read_state, update_state
from engine.clock import FastForwardClock
from engine.runtime.supervisor import Supervisor
from engine.trading import manual
from engine.trading.book import portfolio_view
from engine.trading.risk_records import risk_context
from engine.venues.paper import make_exchange_factory
from engine.wiring import build_account
from tests.support.performance import add_equity
from tests.support.runs import run_ticks


@pytest.fixture
def traded_account(store, trader_factory, busy_config):
    """A paper account that traded for some market hours, holds nothing now, and once stood
    well above its starting capital (the peak a new account must not inherit)."""
    factory = store[1]
    trader, clock = trader_factory(busy_config)
    run_ticks(trader, clock, market_hours=8)
    manual.flatten(trader.account, "manual", "t")
    add_equity(factory, [(clock.now(), 15_000.0)])
    update_state(factory, market_time=clock.now())
    return factory, load_config(busy_config)


def count(factory, column) -> int:
    with factory() as session:
        return session.scalar(select(func.count(column)))


def reset(supervisor: Supervisor, factory, typed: str = "RESET"):
    command_id = submit_command(factory, "reset_paper", {"typed": typed})
    supervisor.handle_commands()
    return get_command(factory, command_id)


def last_equity(factory) -> float:
    with factory() as session:
        return session.scalar(select(EquitySnapshot.equity).order_by(EquitySnapshot.id.desc()))


def test_a_reset_starts_a_new_account_at_the_starting_capital_and_keeps_history(traded_account):
    factory, settings = traded_account
    trades, decisions = count(factory, Trade.id), count(factory, Decision.id)
    before = last_equity(factory)
    assert trades > 0 and before != settings.broker.starting_capital

    done = reset(Supervisor(settings, factory), factory)

    assert done.status == "done", done.result
    capital = settings.broker.starting_capital
    assert last_equity(factory) == capital
    exchange = make_exchange_factory()
    with exchange() as session:
        from engine.venues.paper import PaperBalance

        balances = {b.currency: b.total for b in session.scalars(select(PaperBalance))}
    exchange.kw["bind"].dispose()
    assert balances == {settings.broker.quote_currency: capital}
    assert (count(factory, Trade.id), count(factory, Decision.id)) == (trades, decisions)
    with factory() as session:
        marker = session.scalars(select(AccountReset)).one()
        event = session.scalars(select(Event).where(Event.kind == "paper_reset")).one()
    assert marker.capital == capital and marker.previous_equity == pytest.approx(before)
    assert marker.command_id == done.id
    assert f"{capital:,.2f}" in event.message


def test_after_a_reset_the_daily_loss_and_drawdown_limits_start_from_the_new_capital(
    traded_account,
):
    factory, settings = traded_account
    assert reset(Supervisor(settings, factory), factory).status == "done"

    now = read_state(factory).market_time
    account = build_account(settings, factory, FastForwardClock(now))
    with factory() as session:
        view = portfolio_view(session, account.broker, {})
        context = risk_context(session, view, {}, now)
    capital = settings.broker.starting_capital
    assert (context.equity, context.peak_equity, context.day_start_equity) == (
        capital,
        capital,
        capital,
    )


def test_a_reset_without_the_typed_word_is_refused_and_changes_nothing(traded_account):
    factory, settings = traded_account
    before = last_equity(factory)

    refused = reset(Supervisor(settings, factory), factory, typed="reset please")

    assert refused.status == "failed" and "type RESET" in refused.result
    assert last_equity(factory) == before
    assert count(factory, AccountReset.id) == 0


def test_a_reset_is_refused_while_a_worker_trades(traded_account):
    factory, settings = traded_account
    supervisor = Supervisor(settings, factory)
    supervisor.paper_reset.worker_running = lambda: True

    refused = reset(supervisor, factory)

    assert refused.status == "failed" and "stop trading first" in refused.result
    assert count(factory, AccountReset.id) == 0


def test_a_reset_is_refused_outside_paper_mode(traded_account):
    factory, settings = traded_account
    testnet = settings.model_copy(update={"mode": "testnet"})

    refused = reset(Supervisor(testnet, factory), factory)

    assert refused.status == "failed" and "only a paper account" in refused.result
