"""A small filesystem that fills up: a real tmpfs of a few kilobytes, mounted for one test.

Mounting needs root (CI's container and this project's dev machines run tests as root); where
it is not allowed the test is skipped with the reason."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(where: Path, size: str = "256k") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(disk: Path) -> None:
    """Write until the disk is full (ENOSPC), leaving it full."""
    with contextlib.suppress(OSError), open(disk / "filler", "wb") as out:
        while True:
            out.write(b"\0" * 4096)
            out.flush()
