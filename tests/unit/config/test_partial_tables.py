"""A table given in part keeps the defaults of every key it leaves out."""

import pytest
from pydantic import BaseModel

from config import Settings, load_config
from config.section import is_mapping
from tests.support.runs import run_engine


def mapping_tables(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """The dotted name of every free-keyed table (dict field) in the settings, nested ones too."""
    found = []
    for name, field in model.model_fields.items():
        if is_mapping(field):
            found.append(prefix + name)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += mapping_tables(field.annotation, f"{prefix}{name}.")
    return found


def lookup(settings: Settings, dotted: str):
    value = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def test_the_mapping_tables_are_the_ones_the_defaults_fill():
    # A new dict setting shows up here, and in the parametrised test below.
    assert set(mapping_tables()) == {
        "risk.regime_stop_scale",
        "agents.weights",
        "consensus.thresholds",
        "optimize.space",
    }


FILLED = [table for table in mapping_tables() if lookup(Settings(), table)]


@pytest.mark.parametrize("table", FILLED)
def test_one_key_of_a_table_keeps_the_other_defaults(tmp_path, table):
    defaults = lookup(Settings(), table)
    first, *others = defaults
    changed = defaults[first] * 0.9
    path = tmp_path / "volt.toml"
    path.write_text(f"[{table}]\n{first} = {changed}\n")

    merged = lookup(load_config(path), table)

    assert merged[first] == pytest.approx(changed)
    assert {key: merged[key] for key in others} == {key: defaults[key] for key in others}


def test_switching_the_llm_on_keeps_the_other_agents(tmp_path):
    path = tmp_path / "volt.toml"
    path.write_text("[agents.weights]\nllm = 1.0\n")
    assert load_config(path).agents.weights == {
        "technical": 1.0,
        "regime": 0.5,
        "sentiment": 0.5,
        "llm": 1.0,
    }


def test_check_prints_the_team_the_partial_table_makes(tmp_path, volt_home):
    path = tmp_path / "volt.toml"
    path.write_text("[agents.weights]\nllm = 1.0\nsentiment = 0\n")
    result = run_engine("check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert (
        "volt: team: technical weight 1 on, regime weight 0.5 on, sentiment weight 0 OFF, "
        "llm weight 1 on\n"
    ) in result.stdout
