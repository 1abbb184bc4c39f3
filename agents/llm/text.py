"""Text that leaves the LLM agent: one line, bounded, for tables and logs."""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """One line, no control characters: rationales end up in tables and logs."""
    return _WHITESPACE.sub(" ", _CONTROL.sub("", text)).strip()


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
