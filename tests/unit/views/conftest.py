"""Fixtures the page tests share."""

import pytest


@pytest.fixture
def exposed(volt_home, monkeypatch):
    """A dashboard configured to listen beyond this machine."""
    config = volt_home / "exposed.toml"
    config.write_text('[dashboard]\naddress = "0.0.0.0"\n')
    monkeypatch.setenv("VOLT_CONFIG", str(config))
    return config
