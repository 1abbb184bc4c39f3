"""A loopback Binance spot exchange speaking the REST v3 wire format, for tests.

It checks what the real one checks (API key, HMAC-SHA256 signature, timestamp against
recvWindow, lot size, minimum notional, balances), keeps balances, orders and trades, and can
be told to misbehave: HTTP 429, 418 or 5xx on the next call to an endpoint, accept an order and
then hold the answer back until the client gives up, or hand an order to the matching engine
only after the client gave up (where recvWindow is checked again, as Binance does). Real ccxt
talks to it over real HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

API_KEY = "volt-test-key-0123456789"
API_SECRET = "volt-test-secret-SHOULD-NEVER-BE-SEEN-9876543210"
DAY_MS = 86_400_000
FEE = Decimal("0.001")  # the taker fee rate
# Where the fee is taken (FakeBinance.fee_in): "received", as Binance does without BNB, from
# what the account receives (the coin bought on a buy, the quote on a sale); "quote", always
# in the quote currency; "BNB", paid in BNB at BNB_PRICE quote (the account must hold some).
FEE_MODES = ("received", "quote", "BNB")
BNB_PRICE = Decimal("600")

MARKETS = {
    "BTCUSDT": {"base": "BTC", "quote": "USDT", "price": "60000", "step": "0.00001",
                "tick": "0.01", "min_qty": "0.00001", "min_notional": "5"},
    "ETHUSDT": {"base": "ETH", "quote": "USDT", "price": "3000", "step": "0.0001",
                "tick": "0.01", "min_qty": "0.0001", "min_notional": "5"},
}  # fmt: skip


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many clients' connections at once (the default backlog is 5)


class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str, headers: dict | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg
        self.headers = headers or {}


def _s(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0.00000000"


def _ms() -> int:
    return int(time.time() * 1000)


class FakeBinance:
    def __init__(self, fee_in: str = "received") -> None:
        if fee_in not in FEE_MODES:
            raise ValueError(f"fee_in {fee_in!r} must be one of {FEE_MODES}")
        self.fee_in = fee_in
        self.lock = threading.RLock()
        self.markets = {symbol: dict(spec) for symbol, spec in MARKETS.items()}
        self.prices = {symbol: Decimal(spec["price"]) for symbol, spec in MARKETS.items()}
        self.balances: dict[str, list[Decimal]] = {"USDT": [Decimal("10000"), Decimal(0)]}
        self.orders: dict[int, dict] = {}
        self.trades: list[dict] = []
        self.faults: list[dict] = []
        self.requests: list[tuple[str, str, dict]] = []
        self.clock_offset_ms = 0  # the exchange's clock minus the real one
        self.fill_ratio = Decimal(1)  # share of a taker order that finds liquidity
        self.key_revoked = False  # see revoke_key
        # The account behind the keys: its id in /api/v3/account, and its keys besides
        # API_KEY (key -> secret), as a second key of the same account.
        self.uid = 1
        self.other_keys: dict[str, str] = {}
        self.late_rejected = 0  # orders the matching engine refused as older than recvWindow
        # Each answer takes this long, as from a distant exchange (a fault is answered at
        # once); requests are served at once, each on its own thread.
        self.latency_seconds = 0.0
        self.in_flight = 0  # requests being answered now
        self.most_in_flight = 0  # the most at once so far
        # What happened, in order: each request as "METHOD /path", and "late rejected" or
        # "late executed" when a late order reaches the matching engine.
        self.history: list[str] = []
        self._ids = iter(range(1000, 10**9))
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeBinance:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- test controls --------------------------------------------------------------------
    def fail_next(self, method: str, path: str, status: int, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append({"method": method, "path": path, "status": status})

    def hang_after_accepting_next(self, method: str, path: str, seconds: float) -> None:
        self.faults.append({"method": method, "path": path, "hang": seconds})

    def execute_late_next(self, seconds: float) -> None:
        """The next new order reaches the matching engine `seconds` late, other requests going
        on meanwhile: executed if still within its recvWindow then, refused if not."""
        self.faults.append({"method": "POST", "path": "/api/v3/order", "late": seconds})

    def ban_next(self, method: str, path: str, retry_after: int) -> None:
        """HTTP 418: the IP is banned for `retry_after` seconds (after ignoring 429s)."""
        self.faults.append({"method": method, "path": path, "status": 418, "retry": retry_after})

    def rate_limit_next(self, method: str, path: str, retry_after: int | None) -> None:
        """HTTP 429 with Retry-After (none if None): back off that long, or be banned."""
        self.faults.append({"method": method, "path": path, "status": 429, "retry": retry_after})

    def revoke_key(self) -> None:
        """The key is deleted or expired on the exchange: every signed call answers Binance's
        -2015 (HTTP 401) until `restore_key`; public ones (candles, prices) go on."""
        self.key_revoked = True

    def restore_key(self) -> None:
        self.key_revoked = False

    def add_markets(self, count: int) -> list[str]:
        """`count` more USDT markets (P001/USDT, P002/USDT ...) priced 100; their ccxt symbols."""
        symbols = []
        with self.lock:
            for n in range(len(self.markets), len(self.markets) + count):
                base = f"P{n:03d}"
                self.markets[f"{base}USDT"] = MARKETS["ETHUSDT"] | {"base": base, "price": "100"}
                self.prices[f"{base}USDT"] = Decimal("100")
                symbols.append(f"{base}/USDT")
        return symbols

    def paths(self) -> list[str]:
        """Every path requested so far, in order (e.g. to count the calls sent in a pause)."""
        with self.lock:
            return [path for _method, path, _params in self.requests]

    def calls(self, method: str, path: str) -> list[dict]:
        return [params for m, p, params in self.requests if m == method and p == path]

    def fund(self, asset: str, amount: str) -> None:
        with self.lock:
            self._balance(asset)[0] += Decimal(amount)

    def fill_resting(self, ratio: str = "1") -> None:
        """Let the market trade through every resting limit order (at its limit price)."""
        with self.lock:
            for order in self.orders.values():
                if order["status"] in ("NEW", "PARTIALLY_FILLED"):
                    self._fill(order, order["price"], order["origQty"] * Decimal(ratio))

    # --- the exchange ---------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: str, headers) -> object:
        params = dict(parse_qsl(query)) | dict(parse_qsl(body))
        with self.lock:
            self.requests.append((method, path, params))
            self.history.append(f"{method} {path}")
            fault = next(
                (f for f in self.faults if f["method"] == method and f["path"] == path), None
            )
            if fault:
                self.faults.remove(fault)
        if fault and "status" in fault:
            status = fault["status"]
            if status == 429:
                retry = fault.get("retry")
                raise ApiError(
                    429,
                    -1003,
                    "Too many requests; current limit is 6000 per minute.",
                    {"Retry-After": str(retry)} if retry is not None else {},
                )
            if status == 418:
                raise ApiError(
                    418,
                    -1003,
                    f"Way too many requests; IP banned until {self.now() + fault['retry'] * 1000}.",
                    {"Retry-After": str(fault["retry"])},
                )
            raise ApiError(status, -1001, "Internal error; unable to process your request.")
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        public = {
            "/api/v3/time": lambda: {"serverTime": self.now()},
            "/api/v3/exchangeInfo": self.exchange_info,
            "/api/v3/klines": lambda: self.klines(params),
            "/api/v3/ticker/24hr": lambda: self.ticker(params),
        }
        if path in public:
            return public[path]()
        self.authenticate(query, body, headers, params)
        private = {
            ("GET", "/api/v3/account"): lambda: self.account(),
            ("POST", "/api/v3/order"): lambda: self.new_order(params),
            ("GET", "/api/v3/order"): lambda: self.query_order(params),
            ("DELETE", "/api/v3/order"): lambda: self.cancel_order(params),
            ("GET", "/api/v3/openOrders"): lambda: self.open_orders(params),
            ("GET", "/api/v3/myTrades"): lambda: self.my_trades(params),
        }
        if (method, path) not in private:
            raise ApiError(404, -1000, f"no such endpoint {method} {path}")
        if fault and "late" in fault:
            time.sleep(fault["late"])  # in flight: the client times out, lookups go on
            if int(params["timestamp"]) < self.now() - int(params.get("recvWindow", 5000)):
                with self.lock:
                    self.late_rejected += 1
                    self.history.append("late rejected")
                raise ApiError(
                    400, -1021, "Timestamp for this request is outside of the recvWindow."
                )
        with self.lock:
            answer = private[(method, path)]()
            if fault and "late" in fault:
                self.history.append("late executed")
        if fault and "hang" in fault:
            time.sleep(fault["hang"])  # accepted, but the answer comes too late
        return answer

    def now(self) -> int:
        return _ms() + self.clock_offset_ms

    def authenticate(self, query: str, body: str, headers, params: dict) -> None:
        key = headers.get("X-MBX-APIKEY")
        secret = API_SECRET if key == API_KEY else self.other_keys.get(key)
        if self.key_revoked or secret is None:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        signed = query + body  # Binance signs the query string and the body, concatenated
        payload, _, signature = signed.rpartition("&signature=")
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        stamp, window = int(params["timestamp"]), int(params.get("recvWindow", 5000))
        now = self.now()
        if stamp < now - window or stamp > now + 1000:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def exchange_info(self) -> dict:
        symbols = []
        for symbol, spec in self.markets.items():
            symbols.append(
                {
                    "symbol": symbol,
                    "status": "TRADING",
                    "baseAsset": spec["base"],
                    "baseAssetPrecision": 8,
                    "quoteAsset": spec["quote"],
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": True,
                    "ocoAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": spec["tick"],
                            "maxPrice": "1000000.00",
                            "tickSize": spec["tick"],
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": spec["min_qty"],
                            "maxQty": "9000.00000000",
                            "stepSize": spec["step"],
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": spec["min_notional"],
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],  # fmt: skip
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
                }
            )
        return {"timezone": "UTC", "serverTime": self.now(), "rateLimits": [],
                "exchangeFilters": [], "symbols": symbols}  # fmt: skip

    def klines(self, params: dict) -> list[list]:
        """Candles around the symbol's price, the same for the same time, up to now."""
        symbol = self._symbol(params)
        step = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000}[params["interval"]]
        limit = min(int(params.get("limit", 500)), 1000)
        now = self.now()
        start = int(params.get("startTime", now - limit * step)) // step * step
        base = float(self.prices[symbol])
        rows = []
        for open_time in range(start, min(now, start + limit * step), step):
            wave = math.sin(open_time / step / 7.0) * 0.01
            close = base * (1 + wave)
            opened = base * (1 + math.sin((open_time - step) / step / 7.0) * 0.01)
            high, low = max(opened, close) * 1.002, min(opened, close) * 0.998
            rows.append([open_time, f"{opened:.2f}", f"{high:.2f}", f"{low:.2f}",
                         f"{close:.2f}", "12.5", open_time + step - 1, "750000.0", 100,
                         "6.0", "360000.0", "0"])  # fmt: skip
        return rows

    def ticker(self, params: dict) -> dict:
        symbol = self._symbol(params)
        price = _s(self.prices[symbol])
        now = self.now()
        return {"symbol": symbol, "priceChange": "0", "priceChangePercent": "0",
                "weightedAvgPrice": price, "prevClosePrice": price, "lastPrice": price,
                "lastQty": "0.1", "bidPrice": price, "bidQty": "1", "askPrice": price,
                "askQty": "1", "openPrice": price, "highPrice": price, "lowPrice": price,
                "volume": "100", "quoteVolume": "1000000", "openTime": now - 86_400_000,
                "closeTime": now, "firstId": 1, "lastId": 2, "count": 2}  # fmt: skip

    def account(self) -> dict:
        balances = [
            {"asset": asset, "free": _s(free), "locked": _s(locked)}
            for asset, (free, locked) in self.balances.items()
        ]
        return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
                "sellerCommission": 0, "canTrade": True, "canWithdraw": True,
                "canDeposit": True, "brokered": False, "requireSelfTradePrevention": False,
                "preventSor": False, "updateTime": self.now(), "accountType": "SPOT",
                "balances": balances, "permissions": ["SPOT"], "uid": self.uid}  # fmt: skip

    def new_order(self, params: dict) -> dict:
        symbol = self._symbol(params)
        spec = self.markets[symbol]
        side, kind = params["side"], params["type"]
        quantity = Decimal(params["quantity"])
        if quantity < Decimal(spec["min_qty"]) or quantity % Decimal(spec["step"]):
            raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
        market_price = self.prices[symbol]
        limit_price = Decimal(params["price"]) if kind == "LIMIT" else None
        if (limit_price or market_price) * quantity < Decimal(spec["min_notional"]):
            raise ApiError(400, -1013, "Filter failure: NOTIONAL")
        cid = params.get("newClientOrderId") or f"x-{next(self._ids)}"
        if any(
            o["clientOrderId"] == cid and o["status"] in ("NEW", "PARTIALLY_FILLED")
            for o in self.orders.values()
        ):
            raise ApiError(400, -2010, "Duplicate order sent.")
        # Funds are reserved at the limit price, or the market price for a market order.
        reserve_asset, reserve = (
            (spec["quote"], quantity * (limit_price or market_price))
            if side == "BUY"
            else (spec["base"], quantity)
        )
        if self._balance(reserve_asset)[0] < reserve:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        self._move(reserve_asset, reserve, to_locked=True)
        now = self.now()
        order = {"symbol": symbol, "orderId": next(self._ids), "orderListId": -1,
                 "clientOrderId": cid, "price": limit_price or Decimal(0), "origQty": quantity,
                 "executedQty": Decimal(0), "cummulativeQuoteQty": Decimal(0), "status": "NEW",
                 "timeInForce": params.get("timeInForce", "GTC"), "type": kind, "side": side,
                 "time": now, "updateTime": now, "reserved": reserve,
                 "reserve_asset": reserve_asset}  # fmt: skip
        self.orders[order["orderId"]] = order
        crosses = kind == "MARKET" or (
            limit_price >= market_price if side == "BUY" else limit_price <= market_price
        )
        fills = []
        if crosses:
            fills = self._fill(order, market_price, quantity * Decimal(str(self.fill_ratio)))
            if kind == "MARKET" and order["status"] != "FILLED":
                self._close(order, "EXPIRED")  # no more liquidity: the rest expires
        answer = self._order_json(order) | {"transactTime": now, "workingTime": now}
        answer["fills"] = [
            {"price": _s(t["price"]), "qty": _s(t["qty"]), "commission": _s(t["commission"]),
             "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
            for t in fills
        ]  # fmt: skip
        return answer

    def query_order(self, params: dict) -> dict:
        return self._order_json(self._find(params, -2013, "Order does not exist."))

    def cancel_order(self, params: dict) -> dict:
        order = self._find(params, -2011, "Unknown order sent.")
        if order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(400, -2011, "Unknown order sent.")
        self._close(order, "CANCELED")
        # Binance answers with the cancel request's own id as clientOrderId (a new random one
        # unless newClientOrderId is sent); the order's id comes back as origClientOrderId.
        cancel_id = params.get("newClientOrderId") or f"cancel-{next(self._ids)}"
        return self._order_json(order) | {
            "clientOrderId": cancel_id,
            "origClientOrderId": order["clientOrderId"],
            "transactTime": self.now(),
        }

    def open_orders(self, params: dict) -> list[dict]:
        symbol = params.get("symbol")
        return [
            self._order_json(o)
            for o in self.orders.values()
            if o["status"] in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o["symbol"])
        ]

    def my_trades(self, params: dict) -> list[dict]:
        """As Binance spot: at most 24 h between startTime and endTime (startTime alone means
        the 24 h from it), oldest first from the start, at most `limit` (500, up to 1000);
        with no time at all, the most recent `limit`."""
        symbol = self._symbol(params)
        limit = int(params.get("limit", 500))
        if limit > 1000:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'.")
        start, end = params.get("startTime"), params.get("endTime")
        if start is not None and end is not None and int(end) - int(start) > DAY_MS:
            raise ApiError(400, -1127, "More than 24 hours between startTime and endTime.")
        if start is not None and end is None:
            end = int(start) + DAY_MS
        if end is not None and start is None:
            start = int(end) - DAY_MS
        order_id, from_id = params.get("orderId"), params.get("fromId")
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(400, -1128, "Combination of optional parameters invalid.")
        if from_id is not None:  # by trade id, oldest first
            start, end = 0, 2**62
        found = [
            {k: _s(v) if isinstance(v, Decimal) else v for k, v in t.items()}
            for t in sorted(self.trades, key=lambda t: (t["time"], t["id"]))
            if t["symbol"] == symbol
            and (start is None or int(start) <= t["time"] <= int(end))
            and (order_id is None or str(t["orderId"]) == order_id)
            and (from_id is None or t["id"] >= int(from_id))
        ]
        return found[:limit] if start is not None or order_id is not None else found[-limit:]

    # --- bookkeeping ----------------------------------------------------------------------
    def _symbol(self, params: dict) -> str:
        symbol = params.get("symbol")
        if symbol not in self.markets:
            raise ApiError(400, -1121, "Invalid symbol.")
        return symbol

    def _balance(self, asset: str) -> list[Decimal]:
        return self.balances.setdefault(asset, [Decimal(0), Decimal(0)])

    def _move(self, asset: str, amount: Decimal, to_locked: bool) -> None:
        balance = self._balance(asset)
        sign = 1 if to_locked else -1
        balance[0] -= sign * amount
        balance[1] += sign * amount

    def _fill(self, order: dict, price: Decimal, quantity: Decimal) -> list[dict]:
        spec = self.markets[order["symbol"]]
        step = Decimal(spec["step"])
        left = order["origQty"] - order["executedQty"]
        quantity = min(left, quantity.quantize(step, rounding=ROUND_DOWN))
        if quantity <= 0:
            return []
        value = quantity * price
        base, quote = self._balance(spec["base"]), self._balance(spec["quote"])
        if order["side"] == "BUY":
            released = quantity * (order["price"] or price)
            quote[1] -= released
            quote[0] += released - value  # a better price than reserved comes back
            base[0] += quantity
        else:
            released = quantity
            base[1] -= quantity
            quote[0] += value
        commission, fee_asset = self._charge_fee(spec, order["side"], quantity, value)
        order["reserved"] -= released
        order["executedQty"] += quantity
        order["cummulativeQuoteQty"] += value
        order["status"] = (
            "FILLED" if order["executedQty"] == order["origQty"] else ("PARTIALLY_FILLED")
        )
        order["updateTime"] = self.now()
        trade = {"symbol": order["symbol"], "id": next(self._ids), "orderId": order["orderId"],
                 "orderListId": -1, "price": price, "qty": quantity, "quoteQty": value,
                 "commission": commission, "commissionAsset": fee_asset, "time": self.now(),
                 "isBuyer": order["side"] == "BUY", "isMaker": False,
                 "isBestMatch": True}  # fmt: skip
        self.trades.append(trade)
        return [trade]

    def _charge_fee(
        self, spec: dict, side: str, quantity: Decimal, value: Decimal
    ) -> tuple[Decimal, str]:
        """Take one trade's fee from the account as `fee_in` says; its amount and asset."""
        if self.fee_in == "BNB":
            commission, asset = (value * FEE / BNB_PRICE).quantize(Decimal("1e-8")), "BNB"
        elif self.fee_in == "received" and side == "BUY":
            commission, asset = quantity * FEE, spec["base"]
        else:
            commission, asset = value * FEE, spec["quote"]
        self._balance(asset)[0] -= commission
        return commission, asset

    def _close(self, order: dict, status: str) -> None:
        self._move(order["reserve_asset"], order["reserved"], to_locked=False)
        order["reserved"] = Decimal(0)
        order["status"] = status
        order["updateTime"] = self.now()

    def _find(self, params: dict, code: int, msg: str) -> dict:
        symbol = self._symbol(params)
        for order in self.orders.values():
            if order["symbol"] != symbol:
                continue
            if str(order["orderId"]) == params.get("orderId") or (
                "origClientOrderId" in params
                and order["clientOrderId"] == params["origClientOrderId"]
            ):
                return order
        raise ApiError(400, code, msg)

    def _order_json(self, order: dict) -> dict:
        hidden = ("reserved", "reserve_asset")
        return {
            k: _s(v) if isinstance(v, Decimal) else v for k, v in order.items() if k not in hidden
        } | {"stopPrice": "0.00000000", "icebergQty": "0.00000000", "isWorking": True,
             "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE"}  # fmt: skip


def _handler(exchange: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            extra: dict = {}
            with exchange.lock:
                exchange.in_flight += 1
                exchange.most_in_flight = max(exchange.most_in_flight, exchange.in_flight)
            try:
                status, answer = (
                    200,
                    exchange.handle(method, parts.path, parts.query, body, self.headers),
                )
            except ApiError as error:
                status, answer = error.status, {"code": error.code, "msg": error.msg}
                extra = error.headers
            finally:
                with exchange.lock:
                    exchange.in_flight -= 1
            payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped waiting (a timeout test)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler


def point_ccxt_at(api, url: str) -> None:
    """Send a ccxt binance client's spot REST calls to the loopback exchange."""
    for name in ("public", "private"):
        api.urls["api"][name] = f"{url}/api/v3"
    api.urls["api"]["v1"] = f"{url}/api/v1"
