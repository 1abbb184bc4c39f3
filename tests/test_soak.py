"""A short soak: two market hours with every fault at least once, and nothing lost."""

import re

import pytest

from engine.soak import count_doubled_orders
from tests.conftest import run_engine


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
    result = run_engine("soak", "--hours", "2", "--home", str(tmp_path / "soak"), timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.splitlines()[0]
    assert "0 orders lost" in line and "0 orders duplicated" in line
    assert "cash reconciliation error 0.00" in line
    faults = {kind: int(n) for kind, n in re.findall(r'"(\w+)": (\d+)', line)}
    assert set(faults) == {"sigkill", "sigstop", "feed_outage", "db_lock", "broker_timeout"}
    assert all(n >= 1 for n in faults.values()), faults
    hangs = int(re.search(r"(\d+) hangs detected", line).group(1))
    restarts = int(re.search(r"(\d+) restarts", line).group(1))
    assert hangs >= 1 and restarts >= 2
    market_hours = float(re.search(r"soak: ([\d.]+) market h", line).group(1))
    assert market_hours >= 2.0
