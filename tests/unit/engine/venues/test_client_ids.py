"""Client order ids: the same decision always sends the same id, a new store's never meets a
lost one's, and every id is one Binance takes (at most 36 of [A-Za-z0-9_-])."""

import re
from datetime import UTC, datetime

import pytest

from data.store.models import new_order_generation
from engine.venues.binance.client_ids import client_order_id, rest_order_id

CANDLE = datetime(2026, 3, 1, tzinfo=UTC)
BINANCE_ID = re.compile(r"volt-[A-Za-z0-9_-]{1,31}")
PAIRS = ["BTC/USDT", "DOGE/USDT", "1000SATS/USDT", "BTC/FDUSD", "A" * 20 + "/USDT"]


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("tag", ["b", "s", "st", "ta", "k123456-1000SATS"])
def test_every_id_fits_binance_with_or_without_a_generation(pair, tag):
    for generation in ["", new_order_generation()]:
        cid = client_order_id(pair, CANDLE, tag, generation)
        assert BINANCE_ID.fullmatch(cid), cid
        assert BINANCE_ID.fullmatch(rest_order_id(cid, 12)), rest_order_id(cid, 12)


def test_the_same_decision_in_the_same_store_sends_the_same_id():
    generation = new_order_generation()
    assert client_order_id("BTC/USDT", CANDLE, "b", generation) == client_order_id(
        "BTC/USDT", CANDLE, "b", generation
    )
    assert client_order_id("BTC/USDT", CANDLE, "b", generation) != client_order_id(
        "BTC/USDT", CANDLE, "s", generation
    )


@pytest.mark.parametrize("pair", PAIRS)
def test_a_new_store_never_derives_a_lost_ones_id(pair):
    generations = {new_order_generation() for _ in range(200)} | {""}
    ids = {client_order_id(pair, CANDLE, "b", generation) for generation in generations}
    assert len(ids) == len(generations)


def test_a_store_without_a_generation_sends_the_ids_it_always_did():
    assert client_order_id("BTC/USDT", CANDLE, "b") == "volt-BTCUSDT-1772323200-b"


def test_generations_are_short_and_plain():
    assert all(re.fullmatch(r"[a-z0-9]{5}", new_order_generation()) for _ in range(100))
