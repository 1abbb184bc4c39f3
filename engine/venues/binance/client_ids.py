"""Client order ids: derived from the decision, so a retried or re-run decision can never
double an order, and shaped to Binance's rule (at most 36 of [A-Za-z0-9_-])."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

MAX_CLIENT_ORDER_ID = 36


def client_order_id(pair: str, candle_ts: datetime, tag: str) -> str:
    """Derived from the decision, so a retried or re-run decision can never double an order.
    Exchanges take at most 36 of [A-Za-z0-9_-] (Binance): a longer id keeps its prefix and
    pair and ends in a hash of the rest, still the same for the same decision."""
    market = re.sub(r"[^A-Za-z0-9]", "", pair)
    rest = re.sub(r"[^A-Za-z0-9_-]", "", f"{int(candle_ts.timestamp())}-{tag}")
    full = f"volt-{market}-{rest}"
    if len(full) <= MAX_CLIENT_ORDER_ID:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()
    head = f"volt-{market[:12]}-"
    return head + digest[: MAX_CLIENT_ORDER_ID - len(head)]
