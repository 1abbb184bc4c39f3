"""Client order ids: derived from the decision and the store's generation, so a retried or
re-run decision can never double an order, nor a new store meet a lost one's orders; shaped
to Binance's rule (at most 36 of [A-Za-z0-9_-])."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from engine.venues.broker import OWN_PREFIX

MAX_CLIENT_ORDER_ID = 36
MARKET_KEPT = 12  # characters of the market an over-long id keeps readable


def fit_client_order_id(full: str) -> str:
    """`full` as Binance takes it: unchanged when it fits; else VOLT's prefix and the market
    (its first characters), ending in a hash of the whole id, still the same for the same id."""
    if len(full) <= MAX_CLIENT_ORDER_ID:
        return full
    market = full.removeprefix(OWN_PREFIX).split("-", 1)[0]
    head = f"{OWN_PREFIX}{market[:MARKET_KEPT]}-"
    digest = hashlib.sha256(full.encode()).hexdigest()
    return head + digest[: MAX_CLIENT_ORDER_ID - len(head)]


def client_order_id(pair: str, candle_ts: datetime, tag: str, generation: str = "") -> str:
    """The id of the decision on `pair` at `candle_ts`; `tag` tells its orders apart, and
    the store's `generation` (EngineState.order_generation) a lost store's orders from
    those its successor sends for the same candles."""
    market = re.sub(r"[^A-Za-z0-9]", "", pair)
    ending = f"-{generation}" if generation else ""
    rest = re.sub(r"[^A-Za-z0-9_-]", "", f"{int(candle_ts.timestamp())}-{tag}{ending}")
    return fit_client_order_id(f"{OWN_PREFIX}{market}-{rest}")


def rest_order_id(cid: str, sales: int) -> str:
    """The id for selling the rest of a position already sold `sales` times under `cid`: the
    exchange keeps the earlier sale under `cid`, so a lookup by it would find that sale."""
    return fit_client_order_id(f"{cid}-r{sales}")
