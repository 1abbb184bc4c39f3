"""config [indicators]: the indicator lengths, refused with one line naming the field when
out of range or when the trend's fast EMA is not the shorter, and a window too short for
the configured lengths refused by `engine check`."""

import pytest

from config import ConfigError, load_config
from data.market.periods import DEFAULT_PERIODS, IndicatorPeriods, PeriodsError
from engine.wiring import check_warmup, indicator_periods


def write(tmp_path, text: str):
    path = tmp_path / "volt.toml"
    path.write_text(text)
    return path


def refusal(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    return message


def test_the_default_config_has_the_lengths_volt_always_used():
    assert indicator_periods(load_config()) == DEFAULT_PERIODS
    assert IndicatorPeriods(14, 20, 50, 200, 12) == DEFAULT_PERIODS


def test_each_setting_reaches_its_period(tmp_path):
    settings = load_config(
        write(
            tmp_path,
            "[indicators]\nrsi_period = 9\nbollinger_period = 30\ntrend_fast_span = 20\n"
            "trend_slow_span = 100\nmomentum_window = 6\n",
        )
    )
    assert indicator_periods(settings) == IndicatorPeriods(
        rsi=9, bollinger=30, trend_fast=20, trend_slow=100, momentum=6
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rsi_period = 1", "indicators.rsi_period: Input should be greater than or equal to 2"),
        ("bollinger_period = 501", "indicators.bollinger_period: Input should be less than or"),
        ("momentum_window = 0", "indicators.momentum_window: Input should be greater than or"),
        ("trend_slow_span = 5001", "indicators.trend_slow_span: Input should be less than or"),
        ("rsi_period = 14.5", "indicators.rsi_period: Input should be a valid integer"),
        ("atr_period = 10", "indicators.atr_period: unknown setting"),  # ATR stays 14
    ],
)
def test_a_length_out_of_range_is_refused_naming_it(tmp_path, text, expected):
    assert expected in refusal(tmp_path, f"[indicators]\n{text}\n")


@pytest.mark.parametrize(("fast", "slow"), [(200, 200), (300, 200)])
def test_a_fast_trend_span_not_below_the_slow_one_is_refused(tmp_path, fast, slow):
    text = f"[indicators]\ntrend_fast_span = {fast}\ntrend_slow_span = {slow}\n"
    message = refusal(tmp_path, text)
    assert f"indicators: trend_fast_span {fast} must be below trend_slow_span {slow}" in message


def test_periods_built_directly_refuse_the_same(tmp_path):
    with pytest.raises(PeriodsError, match="trend_fast 60 must be below trend_slow 60"):
        IndicatorPeriods(trend_fast=60, trend_slow=60)
    with pytest.raises(PeriodsError, match="rsi = 1: needs an int >= 2"):
        IndicatorPeriods(rsi=1)


def warmup_refusal(tmp_path, text: str) -> str:
    """What `engine check` (and run, supervise, backtest) print: check_warmup's one line."""
    with pytest.raises(ConfigError) as caught:
        check_warmup(load_config(write(tmp_path, text)))
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    return message


def test_check_refuses_a_window_shorter_than_the_configured_slow_trend(tmp_path):
    err = warmup_refusal(
        tmp_path, "[market]\nhistory_candles = 300\n[indicators]\ntrend_slow_span = 400\n"
    )
    assert "market.history_candles 300 is under the team's warm-up of 400 candles" in err
    assert "regime reading 400" in err and "set it to at least 400" in err


def test_check_counts_the_configured_indicator_and_momentum_lengths(tmp_path):
    err = warmup_refusal(
        tmp_path,
        "[market]\nhistory_candles = 300\n[indicators]\nbollinger_period = 320\n"
        "momentum_window = 310\n",
    )
    assert "warm-up of 320 candles" in err
    assert "indicators 320" in err and "technical 320" in err and "sentiment 311" in err


def test_check_accepts_a_window_that_covers_the_configured_lengths(tmp_path):
    text = "[market]\nhistory_candles = 400\n[indicators]\ntrend_slow_span = 400\n"
    check_warmup(load_config(write(tmp_path, text)))  # raises ConfigError when refused
