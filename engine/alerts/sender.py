"""Sending alerts through Apprise on a thread of its own: a slow, failing or misconfigured
notifier is a warning event (source `alerts`), never a wait or an error in trading."""

from __future__ import annotations

import logging
import queue
import threading
import traceback as tb
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from config.alerts import hide_urls, mask_url
from data.store.events import record_event
from engine.alerts.messages import MAX_BODY, Alert

log = logging.getLogger("volt.alerts")
# Apprise logs the URLs it is given (an unparseable Telegram URL with its bot token) from
# the moment one is added. Its lines reach the sender through notify()'s log_callback and
# are masked there; never through the root handlers, which would store them unmasked.
_APPRISE_LOG = logging.getLogger("apprise")
_APPRISE_LOG.propagate = False
_APPRISE_LOG.addHandler(logging.NullHandler())
SEND_TIMEOUT_SECONDS = 30.0  # one notify() call, every retry included
QUEUE_LIMIT = 500  # alerts waiting; beyond it new ones are dropped (and that is said once)


@dataclass
class Target:
    url: str = field(repr=False)
    shown: str
    apprise: object | None  # apprise.Apprise holding this one URL; None: Apprise refused it


@dataclass(frozen=True)
class Delivery:
    """What became of one alert at one target."""

    alert: Alert
    shown: str
    ok: bool
    why: str = ""


def build_targets(urls: list[str]) -> list[Target]:
    """One Apprise object per URL, so a failure names its target."""
    import apprise

    targets = []
    for url in urls:
        one = apprise.Apprise()
        targets.append(Target(url, mask_url(url), one if one.add(url) else None))
    return targets


class AlertSender:
    """A queue and the thread that empties it into every target."""

    def __init__(self, urls: list[str], factory: sessionmaker[Session] | None) -> None:
        self.urls = urls
        self.factory = factory
        self.deliveries: list[Delivery] = []  # the latest, for `alert-test` and tests
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name="alerts-sender", daemon=True)
        self._dropping = False

    def start(self) -> None:
        self._thread.start()

    def send(self, alert: Alert) -> None:
        """Queue an alert; never blocks."""
        try:
            self._queue.put_nowait(alert)
            self._dropping = False
        except queue.Full:
            if not self._dropping:
                self._dropping = True
                self._warn(f"{QUEUE_LIMIT} alerts are waiting: dropping new ones until they go")

    def close(self, timeout: float) -> bool:
        """Send what is queued, for at most `timeout` seconds; True when all went out."""
        if not self._thread.is_alive():
            return True
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            targets = build_targets(self.urls)
        except Exception as exc:
            self._warn("alerts are off: Apprise could not be loaded", exc)
            targets = []
        for target in targets:
            if target.apprise is None:
                self._warn(
                    f"alert target {target.shown} is not a URL Apprise understands; "
                    "see https://github.com/caronc/apprise/wiki for the URL of each service"
                )
        while (alert := self._queue.get()) is not None:
            for target in targets:
                if target.apprise is not None:
                    self._deliver(target, alert)

    def _deliver(self, target: Target, alert: Alert) -> None:
        said: list[str] = []
        try:
            result = target.apprise.notify(  # type: ignore[attr-defined]
                body=alert.body[:MAX_BODY],
                title=alert.title,
                notify_type=alert.severity,
                log_callback=lambda entry, _service: said.append(entry.message),
                log_level=logging.WARNING,
                timeout=SEND_TIMEOUT_SECONDS,
            )
        except Exception as exc:
            why = hide_urls(f"{type(exc).__name__}: {exc}", self.urls)
            self._record(Delivery(alert, target.shown, False, why))
            self._warn(f"alert {alert.kind} to {target.shown} failed: {why}", exc)
            return
        if result:
            self._record(Delivery(alert, target.shown, True))
            return
        why = hide_urls("; ".join(said) or "the service refused it", self.urls)
        self._record(Delivery(alert, target.shown, False, why))
        self._warn(f"alert {alert.kind} to {target.shown} was not delivered: {why}")

    def _record(self, delivery: Delivery) -> None:
        self.deliveries = [*self.deliveries[-49:], delivery]

    def _warn(self, message: str, exc: BaseException | None = None) -> None:
        """A warning event and a log line, secrets masked; neither may raise."""
        message = hide_urls(message, self.urls)
        trace = hide_urls("".join(tb.format_exception(exc)), self.urls) if exc else ""
        log.warning("%s%s", message, f"\n{trace}" if trace else "", extra={"skip_events": True})
        if self.factory is None:
            return
        try:
            record_event(
                self.factory, "WARNING", "alerts", "alert_failed", message, traceback=trace
            )
        except Exception:
            log.exception("could not store the alert failure as an event")
