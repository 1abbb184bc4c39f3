"""A testnet run against the loopback Binance taking every buy's fee in the coin bought (as
Binance does without BNB), on an account its owner also uses: each round trip is one trade,
its dust written off in it and shown once; the win rate counts those trades; reconciliation
finds nothing amiss with VOLT's coins; the owner's coins, cash and orders neither move VOLT's
equity nor feed its daily-loss and drawdown limits, and are shown apart as not VOLT's."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from data import queries
from data.store.db import transaction
from data.store.models import EquitySnapshot, ProtectionLock, Trade
from data.types import Action, Consensus
from engine.trading import book
from engine.trading.loop import TickReport
from engine.trading.reconcile import reconcile
from engine.trading.tick_records import DecisionPlan
from tests.support.binance import connect
from tests.support.fake_binance import FakeBinance

CAPITAL = 10_000.0  # broker.starting_capital: the quote VOLT was given
# (pair, entry price, exit price): two wins, two losses.
ROUND_TRIPS = [
    ("BTC/USDT", 60_000.0, 61_500.0),
    ("ETH/USDT", 3_000.0, 2_950.0),
    ("BTC/USDT", 61_500.0, 61_000.0),
    ("ETH/USDT", 2_950.0, 3_010.0),
]
SYMBOL = {"BTC/USDT": "BTCUSDT", "ETH/USDT": "ETHUSDT"}


@pytest.fixture
def fake():
    server = FakeBinance(fee_in="received").start()
    yield server
    server.stop()


@pytest.fixture
def worker(settings, fake, store, monkeypatch):
    """The real worker on the loopback exchange; its agents are the test's decisions."""
    from engine.runtime.worker import Worker

    monkeypatch.setattr("engine.wiring.build_exchange", lambda s: connect(s, fake))
    worker = Worker(settings, store[1])
    monkeypatch.setattr(worker.trader.team, "plan", lambda pair, candles, position: None)
    return worker


def owners_doings_before(fake):
    """The owner's own money on the account: more cash, other coins, a resting order."""
    fake.fund("USDT", "5000")
    fake.fund("BNB", "2")
    fake.fund("ETH", "0.5")
    owner = fake.new_order(
        {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.5",
         "price": "2000", "newClientOrderId": "web_by_hand"}
    )  # fmt: skip
    assert owner["status"] == "NEW"  # 1000 USDT locked in the owner's order


def owners_doings_during(fake):
    """Mid-run the owner buys ETH at the market and rests a large order: 3000 USDT spent,
    5000 more locked. Counted from the account's cash, that is an 80 % drawdown."""
    fake.prices["ETHUSDT"] = Decimal("3000")
    fake.new_order({"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"})
    fake.new_order(
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1",
         "price": "50000", "newClientOrderId": "web_dip_buy"}
    )  # fmt: skip


def decide(trader, fake, pair, action, price, n):
    """A decision on the pair's candle n (each its own client order id), at `price`."""
    fake.prices[SYMBOL[pair]] = Decimal(str(price))
    consensus = Consensus(action, 1.0, 0.5, {}, ())
    candle = datetime(2026, 1, 1, tzinfo=UTC) + n * timedelta(minutes=5)
    plan = DecisionPlan(pair, candle, price, price / 100, "normal", consensus)
    return trader.batch.book_decision(plan, datetime.now(UTC), TickReport())


def snapshot(worker) -> float:
    """The equity snapshot the engine stores after each candle."""
    trader = worker.trader
    with transaction(trader.factory) as session:
        return book.snapshot_equity(session, trader.broker, trader.marks, datetime.now(UTC)).equity


def trip(worker, fake, n, pair, bought_at, sold_at):
    trader = worker.trader
    assert decide(trader, fake, pair, Action.BUY, bought_at, 2 * n).startswith("bought")
    trader.broker._balance = None
    sold = decide(trader, fake, pair, Action.SELL, sold_at, 2 * n + 1)
    assert sold.startswith("sold"), sold
    trader.broker._balance = None


def test_a_testnet_run_with_coin_fees_books_one_trade_per_round_trip(worker, fake, store, events):
    owners_doings_before(fake)
    worker.reconcile_book()
    worker.tick_once()  # stores the first equity snapshot; protections reviewed
    assert snapshot(worker) == pytest.approx(CAPITAL)  # the account holds 15000 USDT

    for n, (pair, bought_at, sold_at) in enumerate(ROUND_TRIPS[:2]):
        trip(worker, fake, n, pair, bought_at, sold_at)
    owners_doings_during(fake)
    worker.trader.broker._balance = None
    for n, (pair, bought_at, sold_at) in enumerate(ROUND_TRIPS[2:], start=2):
        trip(worker, fake, n, pair, bought_at, sold_at)
    worker.tick_once()
    worker.reconcile_book()

    with store[1]() as session:
        trades = session.scalars(select(Trade).order_by(Trade.id)).all()
        snapshots = session.scalars(select(EquitySnapshot.equity)).all()
        locks = session.scalars(select(ProtectionLock.protection)).all()
    # One trade per round trip, each with the dust its sale left, none a trade of its own.
    assert [(t.pair, t.entry_price, t.exit_price) for t in trades] == ROUND_TRIPS
    assert {t.exit_reason for t in trades} == {"signal"}
    assert all(0 < t.dust < worker.trader.broker.dust(t.pair) for t in trades)
    fake_btc = Decimal(fake.balances["BTC"][0])
    assert float(fake_btc) == pytest.approx(sum(t.dust for t in trades if t.pair == "BTC/USDT"))
    assert [t.pnl > 0 for t in trades] == [True, False, False, True]
    summary = queries.trade_summary(store[0])
    assert (summary["trades"], summary["wins"]) == (4, 2)  # a 50 % win rate

    # VOLT's equity is its capital plus what its trades made, whatever the owner did.
    realised = sum(t.pnl for t in trades)
    assert snapshot(worker) == pytest.approx(CAPITAL + realised)
    assert min(snapshots) > CAPITAL * 0.95
    assert not {"max_drawdown", "daily_loss_limit"} & set(locks)

    reconciliation = [e.message for e in events() if e.kind == "reconciliation"]
    assert reconciliation, "the owner's order and coins are reported"
    assert all(
        "not placed by VOLT" in m or "not VOLT's: reported, not adopted" in m
        for m in reconciliation
    ), reconciliation
    assert not [f for f in reconcile(worker.trader) if f.startswith("BTC:")]

    worker.publish_exchange_status()
    foreign = queries.exchange_status(store[0])["foreign"]
    assert foreign["balances"]["BNB"] == 2.0
    assert foreign["balances"]["ETH"] == pytest.approx(0.5 + 0.999)
    assert foreign["balances"]["USDT"] == pytest.approx(2_000.0)  # 5000 in, 3000 spent
    assert {o["id"] for o in foreign["orders"]} == {"web_by_hand", "web_dip_buy"}
    assert set(foreign["dust"]) == {"BTC", "ETH"}
    for trade in trades:
        print_round_trip(trade)


def print_round_trip(trade):
    """What the trades table shows for a round trip (seen with pytest -s)."""
    print(
        f"{trade.pair} amount {trade.amount:.8g} entry {trade.entry_price:g} exit "
        f"{trade.exit_price:g} fees {trade.fees:.4f} pnl {trade.pnl:+.4f} "
        f"({trade.pnl_pct:+.3%}) dust {trade.dust:.8g} reason {trade.exit_reason}"
    )


def test_with_the_fee_paid_in_bnb_the_whole_purchase_is_sold_and_no_dust_is_left(
    worker, fake, store
):
    fake.fee_in = "BNB"  # the account pays its fees in BNB: the coin bought arrives whole
    fake.fund("BNB", "1")
    trip(worker, fake, 0, "BTC/USDT", 60_000.0, 61_500.0)
    with store[1]() as session:
        (trade,) = session.scalars(select(Trade)).all()
    assert trade.amount == 0.01666 and trade.dust == 0.0
    assert fake.balances["BTC"][0] == 0
    assert fake.balances["BNB"][0] < 1  # the fees went there, estimated in USDT by VOLT
    assert trade.fees == pytest.approx(0.01666 * (60_000.0 + 61_500.0) * 0.001)
