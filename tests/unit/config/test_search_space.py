"""The search space: declared once, narrowed or fixed by [optimize.space], applied as settings."""

import tomllib

import pytest
from pydantic import ValidationError

from config import ConfigError, Settings, load_config
from config.search_space import (
    SEARCH_SPACE,
    Bounds,
    Optimize,
    SearchSpaceError,
    apply_params,
    changed_sections,
    read_setting,
    search_space,
)
from config.writing import write_config


def settings_with(**optimize) -> Settings:
    return Settings(optimize=Optimize(**optimize))


def test_every_dimension_names_a_real_setting_whose_default_is_inside_its_range():
    settings = Settings()
    for dimension in SEARCH_SPACE:
        assert dimension.contains(read_setting(settings, dimension.path)), dimension.path


def test_the_space_covers_thresholds_weights_stops_periods_and_risk_per_trade():
    paths = {d.path for d in SEARCH_SPACE}
    assert {"consensus.thresholds.normal", "agents.weights.technical",
            "risk.stop_atr_multiple", "risk.take_profit_atr_multiple",
            "risk.trailing_stop_atr_multiple", "indicators.rsi_period",
            "risk.risk_per_trade"} <= paths  # fmt: skip


def test_a_config_narrows_one_dimension_and_fixes_another():
    settings = settings_with(
        space={
            "risk.stop_atr_multiple": Bounds(low=1.0, high=2.0, step=0.5),
            "agents.weights.sentiment": False,
        }  # fmt: skip
    )
    space = {d.path: d for d in search_space(settings)}
    assert (space["risk.stop_atr_multiple"].low, space["risk.stop_atr_multiple"].high) == (1, 2)
    assert "agents.weights.sentiment" not in space


def test_an_unknown_dimension_is_refused_naming_it(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[optimize.space]\n"risk.stop_multiple" = false\n')
    with pytest.raises(ConfigError, match="risk.stop_multiple"):
        load_config(path)


def test_the_slow_trend_span_stays_inside_the_candles_a_decision_reads():
    settings = Settings.model_validate({"market": {"history_candles": 180}})
    slow = next(d for d in search_space(settings) if d.path == "indicators.trend_slow_span")
    assert slow.high == 180
    tiny = Settings.model_validate(
        {"market": {"history_candles": 90}, "indicators": {"trend_slow_span": 80}}
    )
    with pytest.raises(SearchSpaceError, match="history_candles"):
        search_space(tiny)


def test_parameters_apply_as_a_validated_settings():
    tuned = apply_params(
        Settings(),
        {"agents.weights.regime": 1.5, "indicators.rsi_period": 9.0, "risk.stop_atr_multiple": 3},
    )
    assert tuned.agents.weights["regime"] == 1.5
    assert tuned.agents.weights["technical"] == Settings().agents.weights["technical"]
    assert tuned.indicators.rsi_period == 9 and isinstance(tuned.indicators.rsi_period, int)
    with pytest.raises(ValidationError):
        apply_params(Settings(), {"indicators.trend_fast_span": 300})  # above the slow span


def test_the_written_config_holds_whole_tables_and_loads_back(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text('[market]\npairs = ["ETH/USDT"]\n\n[risk]\nmax_open_positions = 2\n')
    params = {"agents.weights.regime": 1.5, "risk.stop_atr_multiple": 3.25}
    out = write_config(tmp_path / "tuned.toml", base, changed_sections(Settings(), params),
                       "chosen by a search\nheld out: +1%")  # fmt: skip
    text = out.read_text()
    assert text.startswith("# chosen by a search\n# held out: +1%\n")
    raw = tomllib.loads(text)
    assert set(raw["agents"]["weights"]) == set(Settings().agents.weights)  # not a partial table
    loaded = load_config(out)
    assert loaded.market.pairs == ["ETH/USDT"] and loaded.risk.max_open_positions == 2
    assert loaded.risk.stop_atr_multiple == 3.25 and loaded.agents.weights["regime"] == 1.5


def test_a_config_is_never_written_over_an_existing_file(tmp_path):
    existing = tmp_path / "running.toml"
    existing.write_text("# the running config\n")
    with pytest.raises(ConfigError, match="already exists"):
        write_config(existing, None, {"risk": {"stop_atr_multiple": 3.0}}, "x")
    assert existing.read_text() == "# the running config\n"
