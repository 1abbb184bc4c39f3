"""Writing a config file: a base config's own tables with some tables replaced, as TOML, under
a header that says where it came from. Never over an existing file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import tomli_w

from config.loading import DEFAULT_CONFIG_PATH, ConfigError, load_config


def check_new_config(path: str | os.PathLike) -> Path:
    """A path a config may be written to: a new file, in a folder (or one still to make)."""
    path = Path(path)
    if path.exists():
        raise ConfigError(f"{path}: already exists; name a new file (nothing was written)")
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(f"{path}: {path.parent} is not a folder (nothing was written)")
    return path


def write_config(
    path: str | os.PathLike, base: str | os.PathLike | None, tables: dict, header: str
) -> Path:
    """`base`'s tables (None: $VOLT_CONFIG or the default file) with `tables` merged over
    them, checked by loading it back. Refuses to replace a file: a running engine reads its
    config on reload, and a recommendation must never change it silently."""
    path = check_new_config(path)
    base_path = Path(base or os.environ.get("VOLT_CONFIG") or DEFAULT_CONFIG_PATH)
    raw = tomllib.loads(base_path.read_text(encoding="utf-8"))
    for section, values in tables.items():
        raw.setdefault(section, {}).update(values)
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(comment + "\n" + tomli_w.dumps(raw), encoding="utf-8")
    try:
        load_config(partial)
    except ConfigError:
        partial.unlink()
        raise
    partial.replace(path)
    return path
