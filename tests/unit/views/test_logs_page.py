"""The Logs page: the tail of a chosen log, filtered by level and component, secrets masked."""

from __future__ import annotations

from tests.support.pages import open_page

PAGE = "views/logs.py"
HEAD = "2026-03-01 12:00:00,000 {level} 4242 {component}: {text}\n"


def write_log(volt_home, name: str, *lines: tuple[str, str, str]) -> None:
    folder = volt_home / "logs"
    folder.mkdir(exist_ok=True)
    text = "".join(HEAD.format(level=lv, component=c, text=t) for lv, c, t in lines)
    (folder / name).write_text(text)


def shown(app) -> str:
    return app.code[0].value if app.code else ""


def test_without_logs_the_page_says_where_they_will_be(volt_home):
    app = open_page(PAGE)
    assert any("No log files yet" in i.value for i in app.info)


def test_the_newest_log_is_tailed_and_filtered_by_level(volt_home):
    write_log(
        volt_home,
        "worker.log",
        ("INFO", "volt.worker", "tick done"),
        ("ERROR", "volt.worker", "tick failed"),
    )

    app = open_page(PAGE)
    assert "tick done" in shown(app) and "tick failed" in shown(app)

    app.selectbox(key="log_level").select("ERROR").run()
    assert "tick failed" in shown(app) and "tick done" not in shown(app)


def test_a_component_filter_keeps_that_logger(volt_home):
    write_log(
        volt_home,
        "worker.log",
        ("WARNING", "volt.risk", "entry blocked"),
        ("INFO", "volt.worker", "tick done"),
    )

    app = open_page(PAGE)
    assert app.multiselect(key="log_components").options == ["volt.risk", "volt.worker"]

    app.multiselect(key="log_components").select("volt.risk").run()
    assert "entry blocked" in shown(app) and "tick done" not in shown(app)


def test_another_log_file_can_be_chosen(volt_home):
    write_log(volt_home, "worker.log", ("INFO", "volt.worker", "from the worker"))
    write_log(volt_home, "supervisor.log", ("INFO", "volt.supervisor", "from the supervisor"))

    app = open_page(PAGE)
    app.selectbox(key="log_file").select("worker.log").run()

    assert "from the worker" in shown(app) and "from the supervisor" not in shown(app)


def test_the_exchange_secret_never_reaches_the_page(volt_home, monkeypatch):
    monkeypatch.setenv("VOLT_API_KEY", "key-abcdef123456")
    monkeypatch.setenv("VOLT_API_SECRET", "secret-987654zyx")
    write_log(volt_home, "worker.log", ("ERROR", "volt.ccxt", "refused secret-987654zyx"))

    app = open_page(PAGE)

    assert "refused ***" in shown(app) and "secret-987654zyx" not in shown(app)
