"""The [alerts] section: targets from the config and $VOLT_ALERT_URLS, kinds switched one by
one, unknown kinds refused, and secrets in URLs masked wherever they are shown."""

import pytest

from config import ConfigError, load_config
from config.alerts import ALERT_KINDS, Alerts, alert_urls, hide_urls, mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321", "tgram://***/***"),
        ("ntfy://volt-alerts-7f3a9c", "ntfy://***"),
        ("ntfys://ntfy.sh/volt-alerts-7f3a9c", "ntfys://ntfy.sh/***"),
        ("ntfy://user:hunter2@ntfy.example.org/topic", "ntfy://***:***@ntfy.example.org/***"),
        ("discord://1170245436557066240/Xp9pUeG3-token-part", "discord://***/***"),
        ("mailto://trader:app-password@gmail.com", "mailto://***:***@gmail.com"),
        (
            "json://127.0.0.1:8080/hooks/volt?token=s3cr3t-t0ken",
            "json://127.0.0.1:8080/***?token=***",
        ),
        ("jsons://alerts.example.com/in", "jsons://alerts.example.com/***"),
        ("json://localhost:9000", "json://localhost:9000"),
        ("not a url at all", "***"),
    ],
)
def test_mask_url_keeps_scheme_and_host_and_hides_every_secret(url, shown):
    assert mask_url(url) == shown


def test_hide_urls_scrubs_a_notifier_error_that_quotes_its_url_and_token():
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    text = f"posting to {url} failed: bot {token} chat 987654321"
    hidden = hide_urls(text, [url])
    assert "AAHdq" not in hidden and "987654321" not in hidden and "123456789" not in hidden
    assert hidden.startswith("posting to tgram://***/*** failed")


def test_hide_urls_leaves_ordinary_words_that_a_short_path_shares():
    urls = ["json://127.0.0.1:9/alerts", "ntfy://ntfy.sh/volt"]
    text = "volt.supervisor: 500 alerts are waiting (volt.db) for json://127.0.0.1:9/alerts"
    hidden = hide_urls(text, urls)
    assert hidden == (
        "volt.supervisor: 500 alerts are waiting (volt.db) for json://127.0.0.1:9/***"
    )


def test_every_kind_is_on_by_default_and_each_can_be_switched_off(tmp_path):
    assert Alerts().kinds_on() == list(ALERT_KINDS)
    config = tmp_path / "c.toml"
    config.write_text("[alerts]\nstop_loss = false\ndaily_summary = false\n")
    on = load_config(config).alerts.kinds_on()
    assert "stop_loss" not in on and "daily_summary" not in on and "halted" in on


def test_an_unknown_kind_is_refused_in_one_line_naming_it(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[alerts]\nhalt = false\n")
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert "alerts.halt: unknown setting" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_summary_hour_is_an_hour_of_the_day(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[alerts]\ndaily_summary_hour = 24\n")
    with pytest.raises(ConfigError, match="alerts.daily_summary_hour"):
        load_config(config)


def test_a_malformed_url_is_refused_without_showing_it(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[alerts]\nurls = ["ntfy.sh/secret-topic-abc"]\n')
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert "alerts.urls: entry 1" in str(refused.value)
    assert "secret-topic-abc" not in str(refused.value)


def test_urls_come_from_the_config_then_the_environment_each_once(volt_home, monkeypatch):
    monkeypatch.setenv("VOLT_ALERT_URLS", "ntfy://a, json://127.0.0.1:1/x  ntfy://a")
    alerts = Alerts(urls=["json://127.0.0.1:1/x"])
    assert alert_urls(alerts) == ["json://127.0.0.1:1/x", "ntfy://a"]


def test_urls_are_read_from_the_env_file_when_the_environment_has_none(volt_home, monkeypatch):
    monkeypatch.delenv("VOLT_ALERT_URLS", raising=False)
    (volt_home / ".env").write_text("VOLT_ALERT_URLS=ntfy://one,ntfy://two\n")
    assert alert_urls(Alerts()) == ["ntfy://one", "ntfy://two"]


def test_one_string_of_urls_in_the_config_is_split(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[alerts]\nurls = "ntfy://a ntfy://b"\n')
    assert load_config(config).alerts.urls == ["ntfy://a", "ntfy://b"]
