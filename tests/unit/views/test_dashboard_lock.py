"""A dashboard open to the network: work-starting pages behind the password, wrong passwords
slowed down per session and per address, and files read or written only in VOLT's folders."""

from types import SimpleNamespace

import pytest

from tests.support.pages import open_page
from views import backtest_files, password

UNLOCK = "FormSubmitter:unlock-Unlock"
PASSWORD = "correct horse"


@pytest.fixture
def locked(exposed, monkeypatch):
    """An exposed dashboard with a password, on a clock the test moves (a list of one time)."""
    monkeypatch.setenv("VOLT_DASHBOARD_PASSWORD", PASSWORD)
    now = [1000.0]
    monkeypatch.setattr(password, "clock", lambda: now[0])
    monkeypatch.setattr(password, "_by_address", {})
    return now


def attempt(app, typed: str):
    app.text_input(key="password").input(typed)
    return app.button(key=UNLOCK).click().run()


def test_each_wrong_password_doubles_the_wait_up_to_a_minute():
    assert [password.wait_after(n) for n in range(9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_the_backtest_page_shows_nothing_but_the_password_box(locked):
    app = open_page("views/backtest.py")
    assert [b.key for b in app.button] == [UNLOCK]
    assert not app.get("file_uploader") and len(app.text_input) == 1


def test_the_backtest_page_opens_with_the_password(locked):
    app = attempt(open_page("views/backtest.py"), PASSWORD)
    assert not app.exception
    assert any("backtest_form" in b.key for b in app.button)


def test_a_guess_during_the_wait_is_not_checked_even_when_right(locked):
    app = attempt(open_page("views/kill_switch.py"), "wrong")
    app = attempt(app, PASSWORD)
    assert any("try again in 1 s" in e.value for e in app.error)
    assert [b.key for b in app.button] == [UNLOCK]
    locked[0] += 1.0
    app = attempt(app, PASSWORD)
    assert UNLOCK not in [b.key for b in app.button]


def test_the_wait_grows_with_each_wrong_password(locked):
    app = open_page("views/control.py")
    for _ in range(3):
        app = attempt(app, "wrong")
        locked[0] += 60.0
    app = attempt(app, "wrong")  # the fourth in a row
    app = attempt(app, PASSWORD)
    assert any("try again in 8 s" in e.value for e in app.error)


def test_a_new_browser_session_from_the_same_address_waits_too(locked, monkeypatch):
    monkeypatch.setattr(password, "_address", lambda: "203.0.113.9")
    attempt(open_page("views/control.py"), "wrong")
    fresh = attempt(open_page("views/control.py"), PASSWORD)  # another session, same address
    assert any("try again in" in e.value for e in fresh.error)


def test_another_address_is_not_slowed_by_a_guesser(locked, monkeypatch):
    monkeypatch.setattr(password, "_address", lambda: "203.0.113.9")
    attempt(open_page("views/control.py"), "wrong")
    monkeypatch.setattr(password, "_address", lambda: "198.51.100.7")
    app = attempt(open_page("views/control.py"), PASSWORD)
    assert UNLOCK not in [b.key for b in app.button]


def test_a_typed_path_outside_volts_folders_is_refused_the_same_whether_it_exists(
    volt_home, tmp_path
):
    real = tmp_path / "secret.csv"
    real.write_text("x")
    refusals = {backtest_files.backtest_file(None, str(p))[1] for p in (real, tmp_path / "no")}
    assert len(refusals) == 1 and "must lie under" in refusals.pop()


@pytest.mark.parametrize("escape", ["candles/../../secret.csv", "candles/link/secret.csv"])
def test_dots_and_symlinks_do_not_lead_out_of_the_candle_store(volt_home, tmp_path, escape):
    (volt_home / "candles").mkdir()
    (volt_home / "candles" / "link").symlink_to(tmp_path)
    path, problem = backtest_files.backtest_file(None, str(volt_home / escape))
    assert path == "" and "must lie under" in problem


def test_a_file_in_the_candle_store_is_read(volt_home):
    stored = volt_home / "candles" / "BTC_USDT-5m.csv"
    assert backtest_files.backtest_file(None, f"  {stored}  ") == (str(stored), None)


def upload(size: int) -> SimpleNamespace:
    return SimpleNamespace(name="../../x.csv", size=size, getvalue=lambda: b"ts,open\n")


def test_an_upload_over_the_cap_is_refused_unsaved(volt_home):
    too_big = backtest_files.MAX_UPLOAD_MB * 2**20 + 1
    path, problem = backtest_files.backtest_file(upload(too_big), "")
    assert path == "" and f"the limit is {backtest_files.MAX_UPLOAD_MB} MB" in problem
    assert not (volt_home / "uploads").exists()


def test_an_upload_is_kept_in_the_upload_folder_under_its_bare_name(volt_home):
    path, problem = backtest_files.backtest_file(upload(8), "")
    assert problem is None
    assert backtest_files.inside(backtest_files.Path(path), [volt_home / "uploads"])
    assert path.endswith("-x.csv")
