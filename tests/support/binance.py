"""Talking to the loopback Binance: testnet settings, a client pointed at it, approved orders."""

from datetime import UTC, datetime

from config.keys import load_api_keys
from data.types import Consensus, OpenPosition, PortfolioView
from engine.trading.book import portfolio_view
from engine.trading.loop import TickReport
from engine.trading.tick_records import DecisionPlan
from engine.venues.binance.client_ids import client_order_id
from engine.venues.ccxt.exchange import make_exchange
from engine.wiring import venue_rules
from risk import OrderIntent
from tests.support.fake_binance import point_ccxt_at

TESTNET = """
mode = "testnet"
[market]
pairs = ["BTC/USDT", "ETH/USDT"]
history_candles = 60
[feed]
kind = "ccxt"
[broker]
kind = "ccxt"
[clock]
speed = 1.0
[exchange]
timeout_seconds = {timeout}
recv_window_ms = 2000
order_wait_seconds = 0.4
order_poll_seconds = 0.05
max_order_value = 1000.0
"""


def connect(settings, fake):
    """A fresh client, as a restarted worker would build, pointed at the loopback exchange."""
    client = make_exchange(settings, load_api_keys(), venue_rules(settings))
    point_ccxt_at(client.api, fake.url)
    client.api.rateLimit = 1  # the limiter stays on, with tests' pace
    return client


def approve_buy(trader, pair="BTC/USDT", price=60_000.0, tag="b"):
    with trader.factory() as session:
        book = portfolio_view(session, trader.broker, trader.marks)
    cid = client_order_id(pair, datetime.now(UTC), tag)
    intent = OrderIntent(pair, "buy", price, cid, "signal", atr=price / 100)
    return trader.gate.approve(intent, book)


def approve_sell(trader, pair, amount, price):
    position = OpenPosition(pair, amount, price, 0.0, price * 0.9, price * 1.1)
    book = PortfolioView(equity=10_000.0, cash=10_000.0, positions={pair: position})
    cid = client_order_id(pair, datetime.now(UTC), "s")
    return trader.gate.approve(OrderIntent(pair, "sell", price, cid, "signal"), book)


def decide(trader, action, now, pair="BTC/USDT", price=60_000.0):
    """The trader acting on a decision to `action` (a data.types.Action) the pair at
    `price` (the candle's close), as a tick would; returns the decision's outcome."""
    consensus = Consensus(action, 1.0, 0.5, {}, ())
    plan = DecisionPlan(pair, now, price, price / 100, "normal", consensus)
    return trader.batch.book_decision(plan, now, TickReport())
