"""The System page names the alert targets, masked: a token in VOLT_ALERT_URLS never shows."""

from tests.support.pages import open_page


def test_system_page_lists_the_alert_targets_masked(volt_home, monkeypatch):
    secret = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
    monkeypatch.setenv("VOLT_ALERT_URLS", f"{secret} ntfys://ntfy.sh/my-topic-x1")
    app = open_page("views/system.py")
    captions = " ".join(c.value for c in app.caption)
    assert "Alerts to tgram://***/***, ntfys://ntfy.sh/***" in captions
    assert "AAHdq" not in captions and "my-topic-x1" not in captions


def test_system_page_says_when_no_alerts_are_set(volt_home, monkeypatch):
    monkeypatch.delenv("VOLT_ALERT_URLS", raising=False)
    app = open_page("views/system.py")
    assert any(c.value.startswith("Alerts: none set") for c in app.caption)
