"""`[dashboard] timezone` as a zone with its daylight-saving rules, for the pages and the
engine's daily summary alike.

"local" is the computer's zone by its IANA name ($TZ, /etc/localtime, /etc/timezone), not
`datetime.now().astimezone().tzinfo`: that is today's fixed offset, an hour off all summer
for a winter start (and the other way round)."""

from __future__ import annotations

import os
from datetime import UTC, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALTIME = Path("/etc/localtime")
TIMEZONE_FILE = Path("/etc/timezone")


def local_zone_name() -> str | None:
    """The computer's IANA zone name, or None when it cannot be told."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    if LOCALTIME.is_symlink():
        target = str(LOCALTIME.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    if TIMEZONE_FILE.is_file():
        candidates.append(TIMEZONE_FILE.read_text(errors="replace").strip())
    for name in candidates:
        if name and not name.startswith("/") and _known(name):
            return name
    return None


def display_zone(name: str) -> tzinfo:
    """The zone a `[dashboard] timezone` setting names ("local", "UTC" or an IANA name)."""
    if name == "UTC":
        return UTC
    if name != "local":
        return ZoneInfo(name)
    if local := local_zone_name():
        return ZoneInfo(local)
    from dateutil.tz import tzlocal  # the C library's rules, daylight saving included

    return tzlocal()


def display_zone_name(name: str) -> str:
    """How the pages name that zone: "Europe/Berlin", "UTC", or "local" when unknown."""
    if name != "local":
        return name
    return local_zone_name() or "local"


def _known(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
