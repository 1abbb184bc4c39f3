"""VOLT configuration: one TOML file, validated at load, secrets only from the environment."""

from config.loading import DEFAULT_CONFIG_PATH, ConfigError, load_config
from config.settings import Settings, timeframe_seconds

__all__ = ["DEFAULT_CONFIG_PATH", "ConfigError", "Settings", "load_config", "timeframe_seconds"]
