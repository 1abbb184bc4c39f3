"""`python -m engine check` lists the alert targets masked and the kinds on; `alert-test`
sends one message to each and says what became of it."""

from tests.support.runs import run_engine

SECRET_URL = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"


def write_config(tmp_path, urls):
    config = tmp_path / "alerts.toml"
    listed = ", ".join(f'"{url}"' for url in urls)
    config.write_text(f"[alerts]\nurls = [{listed}]\nstop_loss = false\ndaily_summary_hour = 7\n")
    return config


def test_check_lists_the_targets_masked_and_the_kinds_on(volt_home, tmp_path, webhook):
    (volt_home / ".env").write_text(f"VOLT_ALERT_URLS={SECRET_URL}\n")
    config = write_config(tmp_path, [webhook.url("hook-s3cr3t")])
    done = run_engine("check", "--config", str(config), VOLT_HOME=str(volt_home))
    assert done.returncode == 0, done.stderr
    assert (
        f"volt: Alerts: 2 target(s): json://127.0.0.1:{webhook.port}/***, tgram://***/***"
        in done.stdout
    )
    assert "off: stop_loss; daily summary at 07:00 market time" in done.stdout
    assert "s3cr3t" not in done.stdout and "AAHdq" not in done.stdout
    assert "987654321" not in done.stdout


def test_alert_test_delivers_to_the_webhook_and_says_so(volt_home, tmp_path, webhook):
    config = write_config(tmp_path, [webhook.url()])
    done = run_engine("alert-test", "--config", str(config), VOLT_HOME=str(volt_home))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"volt: json://127.0.0.1:{webhook.port}/***: delivered" in done.stdout
    assert webhook.titles() == ["VOLT test: alerts work"]


def test_alert_test_names_a_failing_target_without_its_secrets(volt_home, tmp_path):
    from tests.support.webhook import WebhookReceiver

    failing = WebhookReceiver(status=500)
    try:
        config = write_config(tmp_path, [failing.url("hook-s3cr3t")])
        done = run_engine("alert-test", "--config", str(config), VOLT_HOME=str(volt_home))
    finally:
        failing.close()
    assert done.returncode == 1
    assert f"volt: json://127.0.0.1:{failing.port}/***: NOT delivered: " in done.stdout
    assert "s3cr3t" not in done.stdout + done.stderr
