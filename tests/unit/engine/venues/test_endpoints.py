"""exchange.base_url: every REST call of the ccxt client goes to the configured host, each
keeping its path."""

import ccxt
import pytest

from config import ConfigError, load_config
from engine.venues.ccxt.endpoints import point_at


def test_every_api_url_moves_to_the_base_url_keeping_its_path():
    api = ccxt.binance()

    point_at(api, "http://127.0.0.1:8080/")

    assert api.urls["api"]["public"] == "http://127.0.0.1:8080/api/v3"
    assert api.urls["api"]["sapi"] == "http://127.0.0.1:8080/sapi/v1"
    assert api.urls["api"]["fapiPublic"] == "http://127.0.0.1:8080/fapi/v1"


def test_a_proxy_path_prefixes_the_exchange_paths():
    api = ccxt.binance()

    point_at(api, "https://proxy.example/binance")

    assert api.urls["api"]["public"] == "https://proxy.example/binance/api/v3"


def test_an_exchange_whose_calls_add_the_whole_path_is_moved_too():
    api = ccxt.kraken()  # https://api.kraken.com, then /0/public/... per call

    point_at(api, "http://127.0.0.1:9000")

    assert api.urls["api"]["public"] == "http://127.0.0.1:9000"


def test_a_base_url_that_is_not_http_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[exchange]\nbase_url = "api.binance.com"\n')

    with pytest.raises(ConfigError, match="exchange.base_url: 'api.binance.com' must look like"):
        load_config(path)
