"""Closing positions needs an Account only, as the kill switch has with the worker dead:
no agents, no loop."""

from datetime import timedelta

from config import load_config
from data.store.db import as_utc
from data.store.state import read_state, update_state
from engine.clock import FastForwardClock
from engine.trading.manual import close_position, flatten
from engine.trading.reconcile import holdings_mismatches, reconcile
from engine.wiring import build_account
from tests.support.kill import open_positions_count, open_positions_now
from tests.support.runs import START

PAIRS = ["BTC/USDT", "ETH/USDT"]


def an_account(store, tmp_path):
    factory = store[1]
    config = tmp_path / "default.toml"
    config.write_text("")
    update_state(factory, market_time=START + timedelta(days=2))
    open_positions_now(factory, config, PAIRS)
    settings = load_config(config)
    clock = FastForwardClock(as_utc(read_state(factory).market_time))
    return build_account(settings, factory, clock), settings


def test_an_account_flattens_the_book_without_agents_or_a_loop(store, volt_home, tmp_path):
    account, settings = an_account(store, tmp_path)
    market = settings.market
    assert reconcile(account, market.pairs, market.history_candles) == []
    closed, failed = flatten(account, "kill_switch", "k1")
    assert failed == []
    assert sorted(line.split()[1] for line in closed if line.startswith("closed ")) == PAIRS
    assert open_positions_count(store[1]) == 0
    assert holdings_mismatches(account, pairs=market.pairs) == []


def test_an_account_closes_one_position_and_says_when_there_is_none(store, volt_home, tmp_path):
    account, _ = an_account(store, tmp_path)
    assert close_position(account, "BTC/USDT", "manual", "m1").startswith("closed BTC/USDT")
    assert close_position(account, "BTC/USDT", "manual", "m2") == "BTC/USDT: no open position"
    assert open_positions_count(store[1]) == 1
