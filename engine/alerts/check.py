"""What `python -m engine check` says about alerts, and `python -m engine alert-test`."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.alerts import ALERT_KINDS, URLS_VARIABLE, alert_urls
from engine.alerts.messages import trial_alert
from engine.alerts.sender import SEND_TIMEOUT_SECONDS, AlertSender, build_targets


def alert_check_lines(settings: Settings) -> list[str]:
    """The targets (masked), any Apprise does not understand, and the kinds switched on."""
    alerts = settings.alerts
    urls = alert_urls(alerts)
    if not urls:
        return [f"Alerts: none (set {URLS_VARIABLE} in .env, or [alerts] urls)"]
    targets = build_targets(urls)
    lines = [f"Alerts: {len(targets)} target(s): {', '.join(t.shown for t in targets)}"]
    lines += [
        f"Alerts: {t.shown} is not a URL Apprise understands; it will be skipped"
        for t in targets
        if t.apprise is None
    ]
    on = alerts.kinds_on()
    off = [kind for kind in ALERT_KINDS if kind not in on]
    zone = getattr(settings.dashboard, "timezone", "UTC")
    summary = (
        f"; daily summary at {alerts.daily_summary_hour:02d}:00 market time ({zone})"
        if alerts.daily_summary
        else ""
    )
    lines.append(f"Alerts on: {', '.join(on) or 'none'}; off: {', '.join(off) or 'none'}{summary}")
    return lines


def send_test_alert(settings: Settings, factory: sessionmaker[Session]) -> list[str]:
    """One test message to every target; a line per target saying what became of it."""
    urls = alert_urls(settings.alerts)
    if not urls:
        return []
    sender = AlertSender(urls, factory)
    sender.start()
    sender.send(trial_alert(len(urls)))
    sender.close(SEND_TIMEOUT_SECONDS * len(urls) + 5)
    return [
        f"{d.shown}: {'delivered' if d.ok else 'NOT delivered: ' + d.why}"
        for d in sender.deliveries
    ]
