"""The exchange's request-weight budget: calls overlap as long as the weight spent in any
window stays within it, and one that would pass it waits for earlier calls to age out. Time
is a test clock moved only by the budget's own waits."""

import threading

import ccxt
import pytest

from engine.venues.binance.rules import binance_rules
from engine.venues.ccxt.exchange import ExchangeClient
from engine.venues.ccxt.weights import WeightBudget

WINDOW = 60.0
BUDGET = 12.0
KLINES = 0.4  # ccxt's cost of a Binance spot klines read (request weight 2)


class WaitingClock:
    """Seconds that pass only when someone sleeps; safe to share between threads."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def budget_on(clock: WaitingClock) -> tuple[WeightBudget, list[tuple[float, float]]]:
    """A budget on `clock`, and the (time, weight) of every call it let through."""
    budget = WeightBudget(lambda: BUDGET, WINDOW, clock, clock.sleep)
    granted: list[tuple[float, float]] = []
    spend = budget.spend

    def spend_and_note(cost=None):
        spend(cost)
        granted.append((clock(), cost))

    budget.spend = spend_and_note
    return budget, granted


def most_in_any_window(granted: list[tuple[float, float]]) -> float:
    return max(
        sum(weight for at, weight in granted if end - WINDOW < at <= end) for end, _ in granted
    )


def test_calls_within_the_budget_go_at_once():
    clock = WaitingClock()
    budget, granted = budget_on(clock)
    for _ in range(round(BUDGET / KLINES)):
        budget.spend(KLINES)
    assert clock() == 0.0
    assert budget.spent() == pytest.approx(BUDGET)


def test_a_call_past_the_budget_waits_until_the_oldest_call_ages_out():
    clock = WaitingClock()
    budget, granted = budget_on(clock)
    for _ in range(round(BUDGET / KLINES) + 1):
        budget.spend(KLINES)
    assert granted[-1][0] == WINDOW  # the first call, made at 0, counted until then


def test_the_weight_in_any_window_never_passes_the_budget():
    clock = WaitingClock()
    budget, granted = budget_on(clock)
    for cost in [KLINES, 4.0, 0.2, KLINES, 1.2] * 40:
        budget.spend(cost)
    assert most_in_any_window(granted) <= BUDGET + 1e-9
    assert clock() > 5 * WINDOW  # it did have to wait: the test covers the waits


def test_many_threads_together_never_pass_the_budget():
    clock = WaitingClock()
    budget, granted = budget_on(clock)
    threads = [
        threading.Thread(target=lambda: [budget.spend(KLINES) for _ in range(30)]) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 240
    assert most_in_any_window(granted) <= BUDGET + 1e-9


def test_a_call_heavier_than_the_whole_budget_goes_alone_rather_than_never():
    clock = WaitingClock()
    budget, granted = budget_on(clock)
    budget.spend(KLINES)
    budget.spend(BUDGET * 2)
    assert [at for at, _ in granted] == [0.0, WINDOW]


def test_binance_spends_a_minute_of_6000_weight_in_ccxt_costs_in_place_of_its_throttle():
    api = ccxt.binance()
    client = ExchangeClient(api, "paper", rules=binance_rules(5000))
    assert client.weights.window == 60.0
    assert client.weights.budget() / 0.2 == 6000  # ccxt: cost 0.2 a unit of request weight
    api.throttle(KLINES)  # what ccxt calls before each request, with the endpoint's cost
    assert client.weights.spent() == KLINES
