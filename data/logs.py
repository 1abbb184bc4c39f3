"""The engine's and dashboard's log files (VOLT_HOME/logs/*.log), read from the end for the Logs
page: a 100 MB log costs what its tail costs, never a whole read.

A record is a line as `engine.runtime.home` formats it ("2026-03-01 12:00:00,123 INFO 4242
volt.supervisor: text") with the lines after it that have no such head (a traceback). Lines
of other writers (start.sh's and Streamlit's output) have no level or component.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from config import Settings
from config.alerts import alert_urls, url_secrets
from config.keys import dashboard_password, load_api_keys
from data.store.db import volt_home

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CHUNK_BYTES = 256 * 1024
MAX_SCAN_BYTES = 4 * 1024 * 1024  # how far back a filter looks for matches (~0.1 s), at most
_HEAD = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (?P<level>[A-Z]+) (?P<pid>\d+) "
    r"(?P<component>[^\s:]+): "
)
# user:password@ in any URL a line quotes (a database or notifier URL).
# Anchored on the literal "://": a scheme pattern first would backtrack over a long line.
_URL_USERINFO = re.compile(r"://[^/@\s]{1,512}@")


class UnknownLogFile(ValueError):
    """A name that is not one of the files in VOLT_HOME/logs."""


@dataclass(frozen=True)
class LogFile:
    name: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class LogRecord:
    text: str  # the head line and any lines that follow it, secrets masked
    level: str = ""  # empty: not a line of VOLT's logging (stderr output, start.sh)
    component: str = ""  # the logger's name: volt.supervisor, volt.risk, …
    ts: str = ""  # as written, in the writer's local time


@dataclass
class LogTail:
    records: list[LogRecord] = field(default_factory=list)  # oldest first
    components: list[str] = field(default_factory=list)  # every one seen in what was read
    scanned_bytes: int = 0
    reached_start: bool = False  # the whole file was read
    file_size: int = 0


def logs_folder() -> Path:
    return volt_home() / "logs"


def log_files() -> list[LogFile]:
    """The current log files, most recently written first (rotated copies, *.log.1, left out)."""
    folder = logs_folder()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.log"):
        stat = path.stat()
        found.append(LogFile(path.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
    return sorted(found, key=lambda f: f.modified, reverse=True)


def known_secrets(settings: Settings) -> list[str]:
    """Values no page may show even if a log line quoted one: the exchange keys, the
    dashboard password, the alert URLs' secrets. Longest first, so a part never unmasks."""
    secrets: list[str] = []
    keys = load_api_keys()
    if keys is not None:
        secrets += [keys.key, keys.secret]
    secrets.append(dashboard_password() or "")
    for url in alert_urls(settings.alerts):
        secrets += url_secrets(url)
    return sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return _URL_USERINFO.sub("://***@", text) if "://" in text else text


def tail_log(
    name: str,
    limit: int = 200,
    min_level: str = "",
    components: Collection[str] = (),
    secrets: Iterable[str] = (),
    max_bytes: int = MAX_SCAN_BYTES,
) -> LogTail:
    """The last `limit` records of log `name` at `min_level` or above (empty: every line,
    those without a level too) from `components` (empty: all), read backwards from the end
    until enough match or `max_bytes` were read. A last line still being written (no newline
    yet) is left for the next read."""
    path = _log_path(name)
    wanted = LEVELS.index(min_level) if min_level else None
    tail = LogTail()
    seen: set[str] = set()
    secrets = list(secrets)
    with open(path, "rb") as log:
        tail.file_size = os.fstat(log.fileno()).st_size
        lines = _lines_backwards(log, tail.file_size, max_bytes, tail)
        for record in _records_backwards(lines):
            if record.component:
                seen.add(record.component)
            if wanted is not None and (
                record.level not in LEVELS or LEVELS.index(record.level) < wanted
            ):
                continue
            if components and record.component not in components:
                continue
            tail.records.append(record)
            if len(tail.records) >= limit:
                break
    tail.reached_start = tail.scanned_bytes >= tail.file_size
    tail.records = [
        LogRecord(mask_secrets(r.text, secrets), r.level, r.component, r.ts)
        for r in reversed(tail.records)
    ]
    tail.components = sorted(seen)
    return tail


def _log_path(name: str) -> Path:
    folder = logs_folder().resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not name.endswith(".log") or not path.is_file():
        raise UnknownLogFile(f"{name!r} is not a log file in {folder}")
    return path


def _lines_backwards(log, size: int, max_bytes: int, tail: LogTail) -> Iterator[str]:
    """Complete lines, newest first, reading `CHUNK_BYTES` at a time from the end."""
    position, carry, unfinished = size, b"", True
    while position > 0 and size - position < max_bytes:
        step = min(CHUNK_BYTES, position, max_bytes - (size - position))
        position -= step
        log.seek(position)
        block = log.read(step) + carry
        tail.scanned_bytes = size - position
        if unfinished:  # the file's last line, up to its newline: it may still be written
            end = block.rfind(b"\n")
            if end < 0:
                carry = b""
                continue
            block, unfinished = block[:end], False
        lines = block.split(b"\n")
        carry = lines.pop(0)  # may start mid-line: completed by the next (older) chunk
        for line in reversed(lines):
            yield _text(line)
    if position == 0 and carry and not unfinished:
        yield _text(carry)


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r")


def _records_backwards(lines: Iterable[str]) -> Iterator[LogRecord]:
    """Records, newest first: lines without a head join the head line above them."""
    following: list[str] = []
    for line in lines:
        head = _HEAD.match(line)
        if head is None:
            following.append(line)
            continue
        text = "\n".join([line, *reversed(following)])
        following = []
        yield LogRecord(text, head["level"], head["component"], head["ts"])
    for line in following:  # before the first head in the window: lines of their own
        yield LogRecord(line)
