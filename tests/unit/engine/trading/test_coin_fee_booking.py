"""Booking a round trip whose buy fee was taken in the coin bought: the position is what the
account received, the sale sells what the exchange lets it, and the unsellable rest (dust)
is written off in that round trip, never a trade of its own. VOLT's cash on an exchange
account its owner also uses is its own ledger, not the account's balance."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from data.store.db import transaction
from data.store.models import Position, Trade
from engine.trading import book
from engine.trading.account import Account
from engine.trading.execution import record_fill
from engine.trading.reconcile import holdings_mismatches
from engine.venues.broker import BrokerFill
from engine.venues.ccxt.fills import net_of_fees

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
# Binance BTC/USDT: lot step 0.00001, minimum order value 5 USDT; a 0.1 % taker fee.
DUST_AT_61000 = 5 / 61_000  # less than this is below the minimum order value


def fill(cid, side, amount, price, fee, minutes=0, filled=None) -> BrokerFill:
    return BrokerFill(
        client_order_id=cid,
        pair="BTC/USDT",
        side=side,
        amount=amount,
        price=price,
        fee=fee,
        ts=T0 + timedelta(minutes=minutes),
        requested_price=price,
        filled=filled,
    )


def coin_fee_buy(session, cid="volt-b1", bought=0.00166, price=60_000.0):
    """A market buy of `bought` BTC whose fee Binance took in BTC, booked as a position."""
    amount, fee = net_of_fees(
        "BTC/USDT", "buy", bought, price, [{"currency": "BTC", "cost": bought * 0.001}], 0.001
    )
    order, row = record_fill(session, fill(cid, "buy", amount, price, fee, filled=bought), "", None)
    return book.record_entry(session, order, row, price * 0.95, price * 1.1)


def sell(session, cid, amount, price, dust, minutes=30, account="binance testnet"):
    fee = amount * price * 0.001  # a sale's fee is taken in the quote received
    order, row = record_fill(session, fill(cid, "sell", amount, price, fee, minutes), "", None)
    return book.record_exit(session, order, row, "signal", dust, account=account)


def test_a_buy_with_its_fee_in_the_coin_holds_what_the_account_received(store):
    with transaction(store[1]) as session:
        position = coin_fee_buy(session)
    assert position.amount == pytest.approx(0.00166 * 0.999)  # 0.00165834 BTC
    assert position.entry_fee == pytest.approx(0.00000166 * 60_000.0)  # 0.0996 USDT


def test_the_unsellable_rest_is_written_off_in_the_round_trip_that_left_it(store):
    with transaction(store[1]) as session:
        position = coin_fee_buy(session)
        held, entry_fee = position.amount, position.entry_fee
        sell(session, "volt-s1", 0.00165, 61_000.0, DUST_AT_61000)  # rounded down to the lot
    with store[1]() as session:
        (trade,) = session.scalars(select(Trade)).all()  # one round trip, no dust trade
        assert session.get(Position, "BTC/USDT") is None
    assert trade.amount == 0.00165 and trade.exit_reason == "signal"
    assert trade.dust == pytest.approx(held - 0.00165)  # 0.00000834 BTC
    sale_fee = 0.00165 * 61_000.0 * 0.001
    assert trade.fees == pytest.approx(entry_fee + sale_fee)
    # The whole purchase is the cost: the dust's share is lost, not a later losing trade.
    cost = held * 60_000.0 + entry_fee
    assert trade.pnl == pytest.approx(0.00165 * 61_000.0 - sale_fee - cost)
    assert trade.pnl_pct == pytest.approx(trade.pnl / cost)
    assert trade.pnl > 0  # a 1.7 % rise still wins after fees and the dust


def test_a_rest_that_can_still_be_sold_stays_open_and_is_no_dust(store):
    with transaction(store[1]) as session:
        coin_fee_buy(session, bought=0.01)
        trade = sell(session, "volt-s1", 0.005, 61_000.0, DUST_AT_61000)
    assert trade.dust == 0.0
    with store[1]() as session:
        assert session.get(Position, "BTC/USDT").amount == pytest.approx(0.00999 - 0.005)


def test_written_off_dust_adds_up_by_pair_over_round_trips(store):
    with transaction(store[1]) as session:
        for n in (1, 2):
            coin_fee_buy(session, cid=f"volt-b{n}")
            sell(session, f"volt-s{n}", 0.00165, 61_000.0, DUST_AT_61000, minutes=30 * n)
    with store[1]() as session:
        assert book.written_off_dust(session) == {"BTC/USDT": pytest.approx(2 * 0.00000834)}


@dataclass
class SharedAccount:
    """An exchange account VOLT shares with its owner: balances as the exchange has them."""

    held: dict = field(default_factory=dict)
    free: float | None = None  # the quote not locked in orders; None: all of it
    quote: str = "USDT"
    capital: float = 1_000.0
    exclusive_account: bool = False
    name: str = "binance testnet"

    def balances(self) -> dict:
        return self.held

    def cash(self) -> float:  # the free quote: what an order can still spend
        return self.held.get(self.quote, 0.0) if self.free is None else self.free


def test_own_cash_is_capital_plus_realised_less_open_cost(store):
    account = SharedAccount({"USDT": 25_000.0, "BNB": 3.0})  # most of it the owner's
    with transaction(store[1]) as session:
        assert book.own_cash(session, account, {}) == 1_000.0
        coin_fee_buy(session, cid="volt-b1")
        trade = sell(session, "volt-s1", 0.00165, 61_000.0, DUST_AT_61000)
        position = coin_fee_buy(session, cid="volt-b2")
        view = book.portfolio_view(session, account, {"BTC/USDT": 62_000.0})
    open_cost = position.amount * position.entry_price + position.entry_fee
    assert view.cash == pytest.approx(1_000.0 + trade.pnl - open_cost)
    assert view.equity == pytest.approx(view.cash + position.amount * 62_000.0)


def test_another_brokers_round_trips_in_the_same_database_are_not_this_accounts_cash(store):
    account = SharedAccount({"USDT": 25_000.0})
    with transaction(store[1]) as session:
        coin_fee_buy(session, cid="volt-p1")
        sell(session, "volt-p2", 0.00165, 40_000.0, DUST_AT_61000, account="paper")  # a loss
        assert book.own_cash(session, account, {}) == 1_000.0


def test_an_entry_may_spend_no_more_than_the_free_quote(store):
    account = SharedAccount({"USDT": 5_000.0}, free=300.0)  # the owner's orders lock the rest
    with transaction(store[1]) as session:
        view = book.portfolio_view(session, account, {})
    assert (view.buying_power, view.cash, view.equity) == (300.0, 1_000.0, 1_000.0)


def test_own_cash_is_capped_by_the_quote_the_account_really_holds(store):
    account = SharedAccount({"USDT": 400.0})  # the owner took money out from under VOLT
    with transaction(store[1]) as session:
        assert book.own_cash(session, account, {}) == 400.0
        account.held = {}
        assert book.own_cash(session, account, {}) == 0.0


@dataclass
class SharedExchange(SharedAccount):
    """The same account as reconciliation reads it: sales below 0.00001 BTC are refused."""

    def dust(self, pair, price=None) -> float:
        return 0.00001


def test_reconciliation_expects_the_dust_written_off_and_reports_only_the_owners_coins(store):
    with transaction(store[1]) as session:
        for n in (1, 2, 3):  # 3 x 0.00000834 BTC left: more than one unsellable rest
            coin_fee_buy(session, cid=f"volt-b{n}")
            sell(session, f"volt-s{n}", 0.00165, 61_000.0, DUST_AT_61000, minutes=30 * n)
    exchange = SharedExchange({"USDT": 1_000.0, "BTC": 3 * 0.00000834})
    account = Account(store[1], None, None, exchange, None)
    assert holdings_mismatches(account, pairs=["BTC/USDT"]) == []
    exchange.held["BTC"] += 0.002  # the owner buys some
    (finding,) = holdings_mismatches(account, pairs=["BTC/USDT"])
    assert "the other 0.002 (beyond dust VOLT wrote off) is not VOLT's" in finding


def test_dust_seen_gone_from_the_account_no_longer_hides_the_owners_coins(store):
    with transaction(store[1]) as session:
        for n in (1, 2, 3):  # 0.000025 BTC written off
            coin_fee_buy(session, cid=f"volt-b{n}")
            sell(session, f"volt-s{n}", 0.00165, 61_000.0, DUST_AT_61000, minutes=30 * n)
    exchange = SharedExchange({"USDT": 1_000.0})  # the owner converted the dust away
    account = Account(store[1], None, None, exchange, None)
    assert holdings_mismatches(account, pairs=["BTC/USDT"]) == []
    exchange.held["BTC"] = 0.00002  # then buys less than the dust once written off
    (finding,) = holdings_mismatches(account, pairs=["BTC/USDT"])
    assert "the other 2e-05 (beyond dust VOLT wrote off) is not VOLT's" in finding
    with transaction(store[1]) as session:  # new dust is expected again
        coin_fee_buy(session, cid="volt-b4")
        sell(session, "volt-s4", 0.00165, 61_000.0, DUST_AT_61000, minutes=150)
    exchange.held["BTC"] += 0.00000834
    (finding,) = holdings_mismatches(account, pairs=["BTC/USDT"])
    assert "the other 2e-05 (beyond" in finding
