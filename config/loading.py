"""Reading the config file: TOML in, validated `Settings` out, or one line naming what is
wrong. Secrets are refused here: they come only from the environment or `.env`."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ValidationError

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


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", "_") if float(value).is_integer() else f"{value:g}"


def allowed_range(loc: tuple) -> str:
    """'allowed range is 1 to 100' for a numeric setting's dotted location, else ''."""
    model: type[BaseModel] | None = Settings
    field = None
    for part in loc:
        field = model.model_fields.get(str(part)) if model else None
        if field is None:
            return ""
        annotation = field.annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    if field is None or field.annotation not in (int, float):
        return ""
    low = high = ""
    for bound in field.metadata:  # pydantic's Ge, Gt, Le and Lt constraints
        if getattr(bound, "ge", None) is not None:
            low = _number(bound.ge)
        elif getattr(bound, "gt", None) is not None:
            low = f"above {_number(bound.gt)}"
        elif getattr(bound, "le", None) is not None:
            high = _number(bound.le)
        elif getattr(bound, "lt", None) is not None:
            high = f"below {_number(bound.lt)}"
    if not (low and high):
        return ""
    return f"allowed range is {low} to {high}" + (
        ", a whole number" if field.annotation is int else ""
    )


def _describe(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{field}: unknown setting (check the spelling against config/default.toml)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("value_error", "assertion_error"):
        described = f"{field}: {message}" if field != "(top level)" else message
    else:
        described = f"{field}: {message} (got {error.get('input')!r})"
    allowed = allowed_range(error["loc"])
    return f"{described}; {allowed}" if allowed else described


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    text = exc.object[: exc.start]
    line = text.count(b"\n") + 1
    column = exc.start - (text.rfind(b"\n") + 1) + 1
    return (
        f"{path}: not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at position {exc.start} "
        f"(line {line}, column {column}); save the file as UTF-8"
    )


def load_config(path: str | os.PathLike | None = None) -> Settings:
    """Load and validate a TOML config. `path` None means $VOLT_CONFIG or the default file."""
    path = Path(path or os.environ.get("VOLT_CONFIG") or DEFAULT_CONFIG_PATH)
    if not path.is_file():
        raise ConfigError(f"config file not found: looked for {path.resolve()}")
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(_not_utf8(path, exc)) from None
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
