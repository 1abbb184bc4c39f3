"""A command's banner follows it: waiting for the engine, then done or failed in the engine's
words; a newer command's banner replaces the older one, and a finished one goes after a while."""

import time

from data.store.commands import finish_command
from tests.support.pages import open_page


def banners(app) -> list[str]:
    return [e.value for e in [*app.info, *app.success, *app.error] if "(command #" in e.value]


def test_a_sent_command_waits_for_the_engine_then_shows_its_result(volt_home, store):
    app = open_page("views/control.py")
    app.button(key="stop").click().run()
    assert banners(app) == ["Stop (command #1): waiting for the engine…"]
    finish_command(store[1], 1, True, "trading stopped: worker exited")
    app.run()
    done = "Stop (command #1) done: trading stopped: worker exited"
    assert banners(app) == [done] == [s.value for s in app.success]


def test_a_failed_command_shows_the_engines_reason_as_an_error(volt_home, store):
    app = open_page("views/control.py")
    app.button(key="pause").click().run()
    finish_command(store[1], 1, False, "unknown pair 'XRP/USDT'")
    app.run()
    assert banners(app) == ["Pause (command #1) failed: unknown pair 'XRP/USDT'"]
    assert banners(app) == [e.value for e in app.error if "(command #" in e.value]


def test_a_newer_command_supersedes_the_older_ones_banner(volt_home, store):
    app = open_page("views/control.py")
    app.button(key="pause").click().run()
    finish_command(store[1], 1, True, "new entries paused; stops and exits keep working")
    app.button(key="resume").click().run()
    assert banners(app) == ["Resume (command #2): waiting for the engine…"]


def test_a_finished_banner_goes_after_a_while(volt_home, store, monkeypatch):
    monkeypatch.setattr("views.command_status.FINISHED_SHOWN_SECONDS", 0.5)
    app = open_page("views/control.py")
    app.button(key="stop").click().run()
    finish_command(store[1], 1, True, "trading stopped")
    app.run()
    assert banners(app) == ["Stop (command #1) done: trading stopped"]
    time.sleep(0.6)
    app.run()
    assert banners(app) == []


def test_the_kill_switch_banner_follows_the_kill_to_done(volt_home, store):
    app = open_page("views/kill_switch.py")
    app.text_input(key="kill_confirm_text").input("KILL").run()
    app.button(key="kill").click().run()
    assert banners(app) == ["Kill switch (command #1): waiting for the engine…"]
    finish_command(store[1], 1, True, "closed 1 position; engine halted until re-armed")
    app.run()
    assert banners(app) == [
        "Kill switch (command #1) done: closed 1 position; engine halted until re-armed"
    ]
