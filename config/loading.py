"""Reading the config file: TOML in, validated `Settings` out, or one line naming what is
wrong. Secrets are refused here: they come only from the environment or `.env`."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from config.settings import Settings

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "default.toml"
_SECRET_FIELDS = {"api_key", "api_secret", "secret", "password", "apikey"}


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and field."""


def _find_secret_keys(raw: dict, prefix: str = "") -> list[str]:
    found = []
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key.lower() in _SECRET_FIELDS:
            found.append(name)
        if isinstance(value, dict):
            found += _find_secret_keys(value, f"{name}.")
    return found


def _describe(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{field}: unknown setting (check the spelling against config/default.toml)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("value_error", "assertion_error"):
        return f"{field}: {message}" if field != "(top level)" else message
    return f"{field}: {message} (got {error.get('input')!r})"


def load_config(path: str | os.PathLike | None = None) -> Settings:
    """Load and validate a TOML config. `path` None means $VOLT_CONFIG or the default file."""
    path = Path(path or os.environ.get("VOLT_CONFIG") or DEFAULT_CONFIG_PATH)
    if not path.is_file():
        raise ConfigError(f"config file not found: looked for {path.resolve()}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    secrets = _find_secret_keys(raw)
    if secrets:
        raise ConfigError(
            f"{path}: {', '.join(secrets)} must not be in the config file; "
            "set VOLT_API_KEY and VOLT_API_SECRET in the environment or .env"
        )
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None
