"""`[dashboard] timezone`: local, UTC or a zone zoneinfo knows; anything else is one line."""

import pytest

from config import ConfigError, load_config


@pytest.mark.parametrize("name", ["local", "UTC", "Europe/Berlin", "Asia/Tokyo"])
def test_a_known_zone_is_accepted(tmp_path, name):
    path = tmp_path / "volt.toml"
    path.write_text(f'[dashboard]\ntimezone = "{name}"\n')
    assert load_config(path).dashboard.timezone == name


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe", "../etc/passwd", ""])
def test_an_unknown_zone_is_refused_in_one_line_naming_it(tmp_path, name):
    path = tmp_path / "volt.toml"
    path.write_text(f'[dashboard]\ntimezone = "{name}"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "dashboard.timezone" in message and f"{name!r} is not a known zone" in message
    assert "\n" not in message


def test_the_default_is_the_computers_zone():
    assert load_config().dashboard.timezone == "local"
