"""Which files a backtest started from the page may read: an upload (size-capped, kept under
VOLT_HOME/uploads) or a file already in the candle store or the upload folder. Nothing else,
so a page open to the network cannot be used to probe the machine's files."""

from __future__ import annotations

import uuid
from pathlib import Path

from data.store.db import volt_home

MAX_UPLOAD_MB = 50  # a year of 1-minute candles as CSV is about 30 MB


def upload_folder() -> Path:
    return volt_home() / "uploads"


def readable_folders() -> list[Path]:
    return [volt_home() / "candles", upload_folder()]


def save_upload(upload) -> str:
    """An uploaded CSV, kept under VOLT_HOME so the backtest process can read it."""
    folder = upload_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex[:8]}-{Path(upload.name).name}"
    path.write_bytes(upload.getvalue())
    return str(path)


def inside(path: Path, folders: list[Path]) -> bool:
    """Whether the path, its `..` and symlinks resolved, lies under one of the folders."""
    real = path.expanduser().resolve()
    return any(real.is_relative_to(folder.resolve()) for folder in folders)


def backtest_file(upload, typed: str) -> tuple[str, str | None]:
    """(the file the backtest reads, or "", and why it cannot run, or None)."""
    if upload is not None:
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            return (
                "",
                f"the upload is {upload.size / 2**20:.0f} MB: the limit is {MAX_UPLOAD_MB} MB",
            )
        return save_upload(upload), None
    typed = typed.strip()
    if not typed:
        return "", None
    if not inside(Path(typed), readable_folders()):
        # The same words whether or not the file exists: the reply tells nothing of the disk.
        folders = " or ".join(str(f) for f in readable_folders())
        return "", f"a typed path must lie under {folders}; upload any other file"
    return typed, None
