"""A bad config is refused with a message naming the field and the allowed range."""

import pytest

from config import ConfigError, load_config
from tests.support.runs import run_engine


def write(tmp_path, text: str):
    path = tmp_path / "volt.toml"
    path.write_text(text)
    return path


def test_default_config_loads_offline_paper_defaults():
    settings = load_config()
    assert settings.mode == "paper"
    assert settings.feed.kind == "synthetic"
    assert settings.market.pairs == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    assert settings.market.timeframe == "5m"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[risk]\nmax_open_positions = 0", "risk.max_open_positions: Input should be greater"),
        (
            "[risk]\nrisk_per_trade = 0.5",
            "risk.risk_per_trade: Input should be less than or equal to 0.1",
        ),
        ("[market]\ntimeframe = '7x'", "market.timeframe: timeframe '7x' must look like 1m, 5m"),
        ("[market]\npairs = ['BTCUSDT']", "pair 'BTCUSDT' must look like BASE/QUOTE"),
        (
            "[broker]\nfee_rate = -0.1",
            "broker.fee_rate: Input should be greater than or equal to 0",
        ),
        ("[clock]\nspeed = 0", "clock.speed: Input should be greater than 0"),
        ("[risk]\nstop_atr = 2", "risk.stop_atr: unknown setting"),
        (
            "[agents.weights]\ntechnical = 11",
            "weight of 'technical' is 11.0; allowed range is 0 to 10",
        ),
        ("[market]\npairs = ['BTC/EUR']", "BTC/EUR is not quoted in broker.quote_currency USDT"),
        ("[agents.learning]\nfloor = 3.0", "agents.learning: floor 3.0 is above cap 2.0"),
        (
            "[agents.sentiment]\nsource = 'twitter'",
            "agents.sentiment.source: Input should be 'proxy' or 'fear_greed'",
        ),
        ("[agents.weights]\ngpt = 1.0", "unknown agent 'gpt'; known agents: llm, regime"),
        ("[agents.llm]\ntimeout_seconds = 0", "agents.llm.timeout_seconds: Input should be"),
        ("mode = 'demo'", "mode: Input should be 'paper', 'testnet' or 'live'"),
        (
            "[exchange]\nmax_concurrent_requests = 51",
            "exchange.max_concurrent_requests: Input should be less than or equal to 50",
        ),
        (
            "[exchange]\nmax_concurrent_requests = 0",
            "exchange.max_concurrent_requests: Input should be greater than or equal to 1",
        ),
        ("[risk\n", "not valid TOML"),
    ],
)
def test_bad_value_names_field_and_range(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert expected in str(error.value)


def test_api_keys_in_config_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="broker.api_secret must not be in the config file"):
        load_config(write(tmp_path, "[broker]\napi_secret = 'abc'"))


def test_missing_file_says_where_it_looked(tmp_path):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=f"config file not found: looked for {missing}"):
        load_config(missing)


def test_engine_exits_non_zero_with_message_on_bad_config(tmp_path, volt_home):
    path = write(tmp_path, "[risk]\nmax_open_positions = 0")
    result = run_engine("run", "--config", str(path), "--for", "1")
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "risk.max_open_positions" in result.stderr


def test_supervisor_exits_non_zero_on_missing_config(tmp_path, volt_home):
    result = run_engine("supervise", "--config", str(tmp_path / "missing.toml"))
    assert result.returncode == 2
    assert "config file not found" in result.stderr
