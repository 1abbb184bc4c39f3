"""Binance's public market data on loopback, for the downloader's tests: /api/v3/exchangeInfo
and /api/v3/klines in Binance's wire format over a fixed history that ends in a candle still
forming at the server's `now`. It caps the candles per request, records every klines request,
and can be told to fail every klines request after a number of answered ones."""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pandas as pd

INTERVALS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "1d": 86_400_000}
PRICES = {"BTCUSDT": ("BTC", "USDT", 60_000.0), "ETHUSDT": ("ETH", "USDT", 3_000.0)}


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class FakeKlines:
    def __init__(self, history_start: datetime, now: datetime, max_limit: int = 500) -> None:
        self.history_start_ms = ms(history_start)
        self.now_ms = ms(now)
        self.max_limit = max_limit
        self.klines_requests: list[dict] = []
        self.fail_after: int | None = None  # klines answers before every later one fails
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeKlines:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_now(self, now: datetime) -> None:
        self.now_ms = ms(now)

    # --- what the exchange holds ----------------------------------------------------------
    def candle(self, symbol: str, open_ms: int, step: int) -> list:
        """The same candle for the same symbol and time, in Binance's kline row format."""
        base = PRICES[symbol][2]
        opened = base * (1 + 0.01 * math.sin((open_ms - step) / step / 7.0))
        close = base * (1 + 0.01 * math.sin(open_ms / step / 7.0))
        high, low = max(opened, close) * 1.002, min(opened, close) * 0.998
        volume = 10 + (open_ms // step) % 17
        return [open_ms, f"{opened:.2f}", f"{high:.2f}", f"{low:.2f}", f"{close:.2f}",
                f"{volume:.1f}", open_ms + step - 1, "750000.0", 100, "6.0", "360000.0",
                "0"]  # fmt: skip

    def closed_candles(self, symbol: str, interval: str) -> pd.DataFrame:
        """Every candle closed by the server's now, as the store keeps them."""
        step = INTERVALS[interval]
        last_closed = self.now_ms // step * step  # the open of the one still forming
        rows = [
            self.candle(symbol, t, step) for t in range(self.history_start_ms, last_closed, step)
        ]
        frame = pd.DataFrame([r[:6] for r in rows], columns=["ts", "open", "high", "low", "close",
                                                            "volume"])  # fmt: skip
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("ts"), unit="ms", utc=True))
        return frame.astype(float).rename_axis("ts")

    def starts_asked(self) -> list[int]:
        return [int(r["startTime"]) for r in self.klines_requests]

    # --- the exchange ---------------------------------------------------------------------
    def klines(self, params: dict) -> tuple[int, object]:
        with self.lock:
            self.klines_requests.append(params)
            answered = len(self.klines_requests) - 1
        if self.fail_after is not None and answered >= self.fail_after:
            return 503, {"code": -1001, "msg": "Internal error; unable to process your request."}
        symbol, interval = params.get("symbol"), params.get("interval")
        if symbol not in PRICES:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if interval not in INTERVALS:
            return 400, {"code": -1120, "msg": "Invalid interval."}
        step = INTERVALS[interval]
        limit = min(int(params.get("limit", 500)), self.max_limit)
        end = min(int(params.get("endTime", self.now_ms)), self.now_ms)
        start = int(params.get("startTime", end - (limit - 1) * step))
        first = max(self.history_start_ms, -(-start // step) * step)
        opens = range(first, end + 1, step)[:limit]  # the forming candle included, as Binance
        return 200, [self.candle(symbol, t, step) for t in opens]

    def exchange_info(self) -> dict:
        symbols = [
            {"symbol": symbol, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
             "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
             "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True,
             "isMarginTradingAllowed": False, "permissions": [], "permissionSets": [["SPOT"]],
             "filters": [
                 {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000.00",
                  "tickSize": "0.01"},
                 {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000.0",
                  "stepSize": "0.00001"},
             ]}
            for symbol, (base, quote, _) in PRICES.items()
        ]  # fmt: skip
        return {"timezone": "UTC", "serverTime": self.now_ms, "rateLimits": [],
                "exchangeFilters": [], "symbols": symbols}  # fmt: skip

    def handle(self, path: str, query: str) -> tuple[int, object]:
        params = dict(parse_qsl(query))
        if path == "/api/v3/klines":
            return self.klines(params)
        if path == "/api/v3/exchangeInfo":
            return 200, self.exchange_info()
        if path == "/api/v3/time":
            return 200, {"serverTime": self.now_ms}
        return 404, {"code": -1, "msg": f"no such endpoint {path}"}


def _handler(exchange: FakeKlines) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, answer = exchange.handle(parts.path, parts.query)
            payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler
