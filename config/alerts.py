"""The `[alerts]` section: where alerts go (Apprise URLs) and which kinds are sent. URLs
carry tokens and passwords, so they are only ever shown through `mask_url`."""

from __future__ import annotations

import os
import re
from ipaddress import ip_address
from urllib.parse import parse_qsl

from dotenv import dotenv_values
from pydantic import Field, field_validator

from config.keys import env_files
from config.section import Section

URLS_VARIABLE = "VOLT_ALERT_URLS"
# Every kind of alert, in the order the README and `engine check` list them.
ALERT_KINDS = (
    "halted",
    "crash_loop",
    "worker_restarted",
    "kill_switch",
    "stop_loss",
    "protection",
    "key_refused",
    "daily_summary",
)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


class Alerts(Section):
    """Each kind is on unless switched off here; an unknown kind is refused at load."""

    urls: list[str] = Field(default_factory=list)  # added to $VOLT_ALERT_URLS
    halted: bool = True  # the engine halted, with why
    crash_loop: bool = True  # the worker crashed too often: its last error
    worker_restarted: bool = True  # a worker died or hung and was restarted
    kill_switch: bool = True  # the kill switch's result (and a failed flatten's retries)
    stop_loss: bool = True  # a position exited at its stop-loss or trailing stop
    protection: bool = True  # a protection started blocking new entries
    key_refused: bool = True  # the exchange refused the API key
    daily_summary: bool = True
    # The market clock's hour (UTC) the daily summary goes out at, once per market day.
    daily_summary_hour: int = Field(default=20, ge=0, le=23)

    @field_validator("urls", mode="before")
    @classmethod
    def _one_string_is_a_list(cls, urls: object) -> object:
        return split_urls(urls) if isinstance(urls, str) else urls

    @field_validator("urls")
    @classmethod
    def _look_like_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not _URL.fullmatch(url):
                # The URL itself may hold a secret: name its place, never its text.
                raise ValueError(
                    f"entry {urls.index(url) + 1} ({mask_url(url)}) must look like "
                    "scheme://..., e.g. ntfy://ntfy.sh/topic or json://host:port/path"
                )
        return urls

    def kinds_on(self) -> list[str]:
        return [kind for kind in ALERT_KINDS if getattr(self, kind)]


def split_urls(text: str) -> list[str]:
    """URLs separated by commas, spaces or newlines."""
    return [part for part in re.split(r"[\s,]+", text) if part]


def alert_urls(alerts: Alerts) -> list[str]:
    """The config's URLs, then $VOLT_ALERT_URLS (the environment wins over `.env` files, as
    for the API keys), each once."""
    text = os.environ.get(URLS_VARIABLE)
    if text is None:
        for path in env_files():
            if path.is_file() and (found := dotenv_values(path).get(URLS_VARIABLE)):
                text = found
                break
    return list(dict.fromkeys([*alerts.urls, *split_urls(text or "")]))


def _shown_host(host: str) -> bool:
    """A real host name or address is shown; a token in the host's place (Telegram's bot
    token, Discord's webhook id, an ntfy topic) is not."""
    if host.lower() == "localhost" or "." in host:
        return True
    try:
        ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def mask_url(url: str) -> str:
    """The URL with its scheme and host kept and every secret masked: user, password, a
    token standing in the host's place, the path and every query value."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    netloc, slash, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
    userinfo, at, hostport = netloc.rpartition("@")
    shown = scheme + "://"
    if at:
        shown += "***:***@" if ":" in userinfo else "***@"
    host, colon, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    if hostport.startswith("[") and hostport.endswith("]"):  # IPv6, no port
        host, colon, port = hostport, "", ""
    if colon and not port.isdigit():  # Telegram's bot token has a colon in it
        host, colon, port = hostport, "", ""
    shown += (host if host and _shown_host(host) else "***") + (f":{port}" if colon else "")
    if slash and path:
        shown += "/***"
    if query:
        shown += "?" + "&".join(f"{key}=***" for key, _ in parse_qsl(query, True))
    return shown


TOKEN_CHARS = 8  # the shortest path segment or query value scrubbed from free text


def url_secrets(url: str) -> list[str]:
    """The parts of `url` that `mask_url` hides, longest first, to scrub from any text
    (a notifier's error message may quote its URL)."""
    _, _, rest = url.partition("://")
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    userinfo, _, hostport = netloc.rpartition("@")
    # A user, password or token host is a secret whatever its length; a path segment or a
    # query value only from TOKEN_CHARS on, or every "alerts" and "volt" in a log line
    # would read *** (a short one is still masked wherever the whole URL appears).
    parts = [url, *userinfo.split(":")]
    values = [*path.split("/"), *(v for _, v in parse_qsl(query or netloc.partition("?")[2], True))]
    parts += [value for value in values if len(value) >= TOKEN_CHARS]
    host = hostport.partition("?")[0]
    if host and not _shown_host(host.rpartition(":")[0] or host):
        parts += [host, *host.split(":")]
    return sorted({p for p in parts if len(p) >= 4}, key=len, reverse=True)


def hide_urls(text: str, urls: list[str]) -> str:
    """`text` with every secret of `urls` replaced by ***."""
    for url in urls:
        text = text.replace(url, mask_url(url))
        for secret in url_secrets(url):
            text = text.replace(secret, "***")
    return text
