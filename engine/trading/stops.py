"""Each open position's stops, walked over the candles that closed since: a trailing stop
moves up behind the price, and a stop or take-profit met is sent as an exit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from data.market.indicators import candle_arrays
from data.store.db import as_utc, transaction
from data.store.models import Position
from engine.trading.account import Account
from engine.trading.approve import approve_exit
from engine.trading.execution import send_exit
from risk import OrderIntent
from risk.stops import StopWalk, walk_stops

if TYPE_CHECKING:
    from engine.trading.loop import TickReport


class Stops:
    def __init__(self, account: Account, candle_length: timedelta) -> None:
        self.account, self.candle_length = account, candle_length
        self.walked: dict[str, pd.Timestamp] = {}  # pair -> last candle trailed

    def walk(self, position: Position, fresh: pd.DataFrame) -> StopWalk:
        """The position's stops over the new candles that closed after its entry."""
        entered = as_utc(position.entry_ts)
        prices = candle_arrays(fresh)
        candles = zip(
            fresh.index,
            prices["open"].tolist(),
            prices["high"].tolist(),
            prices["low"].tolist(),
            strict=True,
        )
        # A candle whose trail is already stored is not walked again: the stop it raised
        # must not be met by the candles that raised it.
        walked = self.walked.get(position.pair)
        return walk_stops(
            position.stop_loss,
            position.take_profit,
            position.entry_price,
            position.peak_price,
            position.trail_distance,
            (
                (ts, o, h, lo)
                for ts, o, h, lo in candles
                if ts + self.candle_length > entered and (walked is None or ts > walked)
            ),
        )

    def trailed(self, pair: str, fresh: pd.DataFrame) -> None:
        """The trail over these candles is stored: they are not walked again."""
        self.walked[pair] = fresh.index[-1]

    def check(self, pair: str, fresh: pd.DataFrame, now: datetime, report: TickReport) -> None:
        """Walk the pair's stops in a transaction of their own; send the exit a stop met."""
        account = self.account
        with transaction(account.factory) as session:
            position = session.get(Position, pair)
            if position is None:
                return
            walk = self.walk(position, fresh)
            if walk.hit is None:
                position.stop_loss, position.peak_price = walk.stop_loss, walk.peak_price
                self.trailed(pair, fresh)
                return
            # The trail up to the hit is stored with the exit's booking, not before: should
            # the exit fail, the same candles are walked again from the same stop, meet it on
            # the same candle and resend under the same client order id (never a second sell).
            ts, price, reason = walk.hit
            intent = OrderIntent(
                pair, "sell", price, account.order_id(pair, ts, reason[:2]), reason
            )
            approved = approve_exit(account, session, intent)
        send_exit(account, approved, now, trail=walk)
        report.exits += 1
