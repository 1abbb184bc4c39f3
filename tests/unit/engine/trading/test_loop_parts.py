"""The Trader's attributes are its parts': a write through the Trader reaches every step, and
what the steps share by reference cannot be replaced behind their backs."""

import pytest


def test_a_pause_and_a_new_broker_set_on_the_trader_reach_its_steps(trader_factory):
    trader, _ = trader_factory()
    trader.entries_paused = True
    assert trader.rules.paused is True
    replacement = object()
    trader.broker = replacement
    assert trader.account.broker is replacement and trader.approval.account.broker is replacement


@pytest.mark.parametrize("name", ["stale_pairs", "weights", "base_weights", "factory"])
def test_what_the_steps_share_cannot_be_replaced(trader_factory, name):
    trader, _ = trader_factory()
    with pytest.raises(AttributeError, match="change it in place"):
        setattr(trader, name, {})
