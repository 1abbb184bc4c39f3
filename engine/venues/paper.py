"""The paper exchange: a pretend venue with its own store, like a real exchange has its own.

Orders it accepts are committed at once, outside the engine's decision transaction, so a
timeout after acceptance is a real case here just as it is against an exchange: the engine
must look the order up by its client order id instead of sending it twice.

Its fill model (broker.fill_at): an order the engine sends at once after deciding on a
candle's close fills where a real market order would, at the next candle's open, which is
the open of the candle forming now (`Feed.opening_price`); with "close", at the order's own
price, the decision's close. A stop or take-profit met fills at its own price either way
(the intrabar rule of risk.stops: the level, or the open when a candle gaps through it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Float, Integer, String, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from data.store.db import as_utc, make_session_factory, transaction, volt_home
from engine.venues.broker import BrokerFill, InsufficientFunds
from engine.venues.feed import Feed
from risk import ApprovedOrder

FILL_MODELS = ("next_open", "close")
# Exits a stop or take-profit triggered: filled at the level, as a resting order would be.
TRIGGERED_EXITS = frozenset({"stop_loss", "trailing_stop", "take_profit"})


class ExchangeBase(DeclarativeBase):
    pass


class PaperBalance(ExchangeBase):
    __tablename__ = "paper_balances"
    currency: Mapped[str] = mapped_column(String(16), primary_key=True)
    total: Mapped[float] = mapped_column(Float)


class PaperOrder(ExchangeBase):
    __tablename__ = "paper_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    ts: Mapped[datetime]
    pair: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    amount: Mapped[float] = mapped_column(Float)
    # The market's price when the order arrived, which the fill is slipped from: the
    # order's own price, or under next_open fills the forming candle's open.
    requested_price: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="filled")

    def as_fill(self, duplicate: bool = False) -> BrokerFill:
        return BrokerFill(
            client_order_id=self.client_order_id,
            pair=self.pair,
            side=self.side,
            amount=self.amount,
            price=self.price,
            fee=self.fee,
            ts=as_utc(self.ts),
            requested_price=self.requested_price,
            duplicate=duplicate,
            market_price=self.requested_price,
        )


def paper_exchange_url() -> str:
    """Its own SQLite file by default; with a server database, its own tables there."""
    explicit = os.environ.get("VOLT_PAPER_DB_URL")
    if explicit:
        return explicit
    shared = os.environ.get("VOLT_DB_URL")
    if shared and not shared.startswith("sqlite"):
        return shared
    return f"sqlite:///{volt_home() / 'paper-exchange.db'}"


def make_exchange_factory(url: str | None = None) -> sessionmaker[Session]:
    from data.store.db import make_engine

    engine = make_engine(url or paper_exchange_url(), metadata=ExchangeBase.metadata)
    return make_session_factory(engine)


def last_fill_time(
    pairs: Sequence[str], factory: sessionmaker[Session] | None = None
) -> datetime | None:
    """When the paper exchange last filled an order in one of `pairs`; None before its first."""
    own = factory is None
    factory = factory or make_exchange_factory()
    try:
        with factory() as session:
            last = select(func.max(PaperOrder.ts)).where(PaperOrder.pair.in_(list(pairs)))
            return as_utc(session.scalar(last))
    finally:
        if own:
            factory.kw["bind"].dispose()


def paper_fill(
    side: str, price: float, amount: float, fee_rate: float, slippage_rate: float
) -> tuple[float, float]:
    """Fill price (moved against you by slippage) and fee; backtests share this arithmetic."""
    fill_price = price * (1 + slippage_rate if side == "buy" else 1 - slippage_rate)
    return fill_price, amount * fill_price * fee_rate


def reset_balances(
    factory: sessionmaker[Session], quote_currency: str, capital: float
) -> dict[str, float]:
    """A fresh paper account: `capital` in the quote currency and no coins. Its past orders
    are kept, as an exchange keeps a closed account's history. Returns the old balances."""
    with transaction(factory) as session:
        old = {b.currency: b.total for b in session.scalars(select(PaperBalance))}
        session.execute(delete(PaperBalance))
        session.add(PaperBalance(currency=quote_currency, total=capital))
    return old


# Prebuilt: read every tick, or on every order.
_BALANCES = select(PaperBalance.currency, PaperBalance.total)
_ORDER_BY_CLIENT_ID = select(PaperOrder).where(
    PaperOrder.client_order_id == bindparam("client_order_id")
)
_BALANCES_OF = _BALANCES.where(PaperBalance.currency.in_(bindparam("currencies", expanding=True)))
_SET_BALANCE = (
    update(PaperBalance)
    .where(PaperBalance.currency == bindparam("of"))
    .values(total=bindparam("new_total"))
)
_NEW_BALANCE = insert(PaperBalance)
_NEW_ORDER = insert(PaperOrder)


class PaperExchange:
    """Fills market orders at once, moved against you by slippage, less fees: at the next
    candle's open (`fill_at` "next_open", with a feed to quote it) or at the order's price."""

    name = "paper"
    exclusive_account = True

    def __init__(
        self,
        factory: sessionmaker[Session],
        quote_currency: str,
        starting_capital: float,
        fee_rate: float,
        slippage_rate: float,
        fill_at: str = "close",
        quotes: Feed | None = None,
    ) -> None:
        if fill_at not in FILL_MODELS:
            raise ValueError(f"broker.fill_at {fill_at!r} must be one of {FILL_MODELS}")
        self.factory = factory
        self.quote = quote_currency
        self.starting_capital = starting_capital
        self.fee_rate = fee_rate
        self.slippage_rate = slippage_rate
        self.fill_at = fill_at
        self.quotes = quotes  # the feed whose forming candle prices a next-open fill
        with transaction(factory) as session:
            if session.get(PaperBalance, self.quote) is None:
                session.add(PaperBalance(currency=self.quote, total=starting_capital))

    @property
    def engines(self) -> list:
        """The store behind this exchange (see `Trader.between_ticks`)."""
        return [self.factory.kw["bind"]]

    def balances(self) -> dict[str, float]:
        with self.factory() as session:
            return dict(session.connection().execute(_BALANCES).all())

    def cash(self) -> float:
        return self.balances().get(self.quote, 0.0)

    def market_price(self, order: ApprovedOrder, now: datetime) -> float:
        """The price the order fills from before slippage (see the module's fill model)."""
        if self.fill_at != "next_open" or self.quotes is None or order.reason in TRIGGERED_EXITS:
            return order.price
        opening = self.quotes.opening_price(order.pair, now)
        return order.price if opening is None else opening  # no forming candle: its price

    def submit(self, order: ApprovedOrder, now: datetime) -> BrokerFill:
        if not order.approved:
            raise PermissionError(f"{order.pair}: order did not pass the risk gate; refused")
        market = self.market_price(order, now)  # before the transaction: a ticker may wait
        # Core statements, prebuilt: an order waits on this exchange as on a real one.
        with transaction(self.factory) as session:
            conn = session.connection()
            existing = self._find(session, order.client_order_id)
            if existing is not None:
                return existing.as_fill(duplicate=True)  # exchanges refuse a reused id
            base = order.pair.split("/")[0]
            price, fee = paper_fill(
                order.side, market, order.amount, self.fee_rate, self.slippage_rate
            )
            value = order.amount * price
            held = dict(conn.execute(_BALANCES_OF, {"currencies": [self.quote, base]}).all())
            quote, coin = held.get(self.quote, 0.0), held.get(base, 0.0)
            if order.side == "buy":
                if quote < value + fee:
                    raise InsufficientFunds(
                        f"{order.pair}: insufficient {self.quote}: need {value + fee:.2f}, "
                        f"have {quote:.2f}"
                    )
                quote, coin = quote - (value + fee), coin + order.amount
            else:
                if coin < order.amount * (1 - 1e-9):
                    raise InsufficientFunds(
                        f"{order.pair}: insufficient {base}: need {order.amount:.8g}, "
                        f"have {coin:.8g}"
                    )
                quote, coin = quote + value - fee, max(0.0, coin - order.amount)
            for currency, total in ((self.quote, quote), (base, coin)):
                if currency in held:
                    conn.execute(_SET_BALANCE, {"of": currency, "new_total": total})
                else:
                    conn.execute(_NEW_BALANCE, {"currency": currency, "total": total})
            row = {
                "client_order_id": order.client_order_id,
                "ts": now,
                "pair": order.pair,
                "side": order.side,
                "amount": order.amount,
                "requested_price": market,
                "price": price,
                "fee": fee,
                "status": "filled",
            }
            conn.execute(_NEW_ORDER, row)
            return PaperOrder(**row).as_fill()

    def fetch_order(self, client_order_id: str) -> BrokerFill | None:
        with self.factory() as session:
            row = self._find(session, client_order_id)
            return row.as_fill(duplicate=True) if row else None

    def settle_unknown(self, order: ApprovedOrder) -> BrokerFill | None:
        # Its store commits an order at once: what a lookup does not find never executed.
        return self.fetch_order(order.client_order_id)

    def settle_in_doubt(self) -> list[str]:
        return []  # nothing is ever in flight here

    def orders(self) -> list[BrokerFill]:
        with self.factory() as session:
            return [
                r.as_fill() for r in session.scalars(select(PaperOrder).order_by(PaperOrder.id))
            ]

    def open_orders(self) -> list:
        return []  # market orders fill at once, so nothing is ever left open

    def cancel_order(self, order) -> None:
        raise LookupError("the paper exchange has no open orders")

    def cancel_open_orders(self, now: datetime) -> int:
        return 0

    def dust(self, pair: str, price: float | None = None) -> float:
        return 0.0

    def _find(self, session: Session, client_order_id: str) -> PaperOrder | None:
        return session.scalar(_ORDER_BY_CLIENT_ID, {"client_order_id": client_order_id})
