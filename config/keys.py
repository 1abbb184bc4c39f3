"""API keys: from the environment or a `.env` file, never from the config file or a log line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

KEY_VARIABLE = "VOLT_API_KEY"
SECRET_VARIABLE = "VOLT_API_SECRET"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ApiKeys:
    key: str = field(repr=False)
    secret: str = field(repr=False)
    source: str  # where they came from, safe to show

    def hide(self, text: str) -> str:
        """The text with the key and the secret masked, for anything a person may read."""
        for value in (self.secret, self.key):
            if value:
                text = text.replace(value, "***")
        return text


def env_files() -> list[Path]:
    """`.env` in VOLT_HOME first, then in the repository."""
    home = os.environ.get("VOLT_HOME")
    home_dir = Path(home) if home else REPO_ROOT / "var"
    return [home_dir / ".env", REPO_ROOT / ".env"]


def load_api_keys() -> ApiKeys | None:
    """The environment wins over `.env` files; None when no complete pair is found."""
    key, secret = os.environ.get(KEY_VARIABLE), os.environ.get(SECRET_VARIABLE)
    if key and secret:
        return ApiKeys(key.strip(), secret.strip(), "the environment")
    for path in env_files():
        if not path.is_file():
            continue
        values = dotenv_values(path)
        key, secret = values.get(KEY_VARIABLE), values.get(SECRET_VARIABLE)
        if key and secret:
            return ApiKeys(key.strip(), secret.strip(), str(path))
    return None


def missing_keys_message(mode: str) -> str:
    places = " or ".join(str(p) for p in env_files())
    return (
        f"mode = '{mode}' needs exchange API keys: set {KEY_VARIABLE} and {SECRET_VARIABLE} "
        f"in the environment or in {places}"
    )


PASSWORD_VARIABLE = "VOLT_DASHBOARD_PASSWORD"


def dashboard_password() -> str | None:
    """The password a dashboard bound beyond loopback asks for: environment, then `.env`."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    for path in env_files():
        if path.is_file() and dotenv_values(path).get(PASSWORD_VARIABLE):
            return dotenv_values(path)[PASSWORD_VARIABLE]
    return None
