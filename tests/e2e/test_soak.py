"""A short soak: two market hours with every fault at least once, and nothing lost."""

import re

import pytest

from engine.tools.soak import count_doubled_orders
from tests.support.runs import run_engine


class Order:
    def __init__(self, pair: str, side: str) -> None:
        self.pair, self.side = pair, side


def test_doubled_orders_are_counted():
    orders = [
        Order("A", "buy"),
        Order("A", "sell"),
        Order("B", "buy"),
        Order("B", "buy"),
        Order("A", "sell"),
    ]
    assert count_doubled_orders(orders) == 2


@pytest.mark.timeout(420)
def test_two_market_hours_with_every_fault_lose_and_double_nothing(tmp_path):
    # At 180x a tick is 1.7 s of wall time: a hang is still caught within two (3.3 s), and
    # the run takes about a minute instead of two (it held with both cores busy).
    result = run_engine(
        "soak", "--hours", "2", "--speed", "180", "--home", str(tmp_path / "soak"), timeout=400
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.splitlines()[0]
    assert "0 orders lost" in line and "0 orders duplicated" in line
    assert "cash reconciliation error 0.00" in line
    faults = {kind: int(n) for kind, n in re.findall(r'"(\w+)": (\d+)', line)}
    assert set(faults) == {
        "sigkill",
        "sigstop",
        "feed_outage",
        "db_lock",
        "crash_after_submit",
        "broker_timeout",
    }
    assert all(n >= 1 for n in faults.values()), faults
    hangs = int(re.search(r"(\d+) hangs detected", line).group(1))
    restarts = int(re.search(r"(\d+) restarts", line).group(1))
    assert hangs >= 1 and restarts >= 3  # SIGKILL, the hang, and the crash after a submit
    market_hours = float(re.search(r"soak: ([\d.]+) market h", line).group(1))
    assert market_hours >= 2.0


def test_the_audit_fails_on_a_lost_and_a_doubled_order(tmp_path):
    from datetime import UTC, datetime

    from data.store.db import make_engine, make_session_factory, transaction
    from engine.tools.soak import Soak
    from engine.venues.paper import PaperBalance, PaperOrder, make_exchange_factory

    soak = Soak(hours=1, speed=100, faults=False, seed=1, home=tmp_path)
    soak.write_files()
    soak.factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'volt.db'}"))
    exchange = make_exchange_factory(f"sqlite:///{tmp_path / 'paper-exchange.db'}")
    now = datetime.now(UTC)
    with transaction(exchange) as session:  # two buys, never recorded by the engine
        for cid in ("volt-BTCUSDT-1-b", "volt-BTCUSDT-2-b"):
            session.add(
                PaperOrder(
                    client_order_id=cid,
                    ts=now,
                    pair="BTC/USDT",
                    side="buy",
                    amount=0.01,
                    requested_price=60_000.0,
                    price=60_000.0,
                    fee=0.6,
                )
            )
        session.add(PaperBalance(currency="BTC", total=0.02))
    soak.audit()
    failures = soak.result.failures()
    assert soak.result.orders_lost == 2
    assert soak.result.orders_duplicated == 1
    assert any("orders lost" in f for f in failures)
    assert any("the account holds" in f for f in failures)


def test_the_audit_fails_when_more_hangs_were_detected_than_workers_frozen(tmp_path):
    from data.store.db import make_engine, make_session_factory
    from data.store.events import record_event
    from engine.tools.soak import FAULT_KINDS, Soak
    from engine.venues.paper import make_exchange_factory

    soak = Soak(hours=1, speed=100, faults=True, seed=1, home=tmp_path)
    soak.write_files()
    soak.factory = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'volt.db'}"))
    make_exchange_factory(f"sqlite:///{tmp_path / 'paper-exchange.db'}")
    soak.result.injected = dict.fromkeys(FAULT_KINDS, 1)  # one SIGSTOP among them
    for _ in range(2):  # the frozen worker's, and one for a worker waiting on a held lock
        record_event(soak.factory, "ERROR", "supervisor", "hang", "worker hung")

    soak.audit()

    assert "2 hangs detected for 1 frozen workers" in " ".join(soak.result.failures())
