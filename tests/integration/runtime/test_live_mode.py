"""Modes: inconsistent settings are refused, live trading needs keys, allow_live and a typed
confirmation, and every page shows the mode in its own colour."""

import os
import subprocess

import pytest
from sqlalchemy import select

from config import ConfigError, load_config
from data.store.commands import get_command, submit_command
from data.store.models import Command
from data.store.state import read_state, save_exchange_status, update_state
from engine.runtime.supervisor import Supervisor
from tests.support.evidence import file_evidence
from tests.support.pages import open_page
from tests.support.runs import run_engine

EXCHANGE = "[feed]\nkind = 'ccxt'\n[broker]\nkind = 'ccxt'\n[clock]\nspeed = 1.0\n"
LIVE = "mode = 'live'\n" + EXCHANGE + "[exchange]\nallow_live = true\n"


def write(tmp_path, text: str):
    path = tmp_path / "volt.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[broker]\nkind = 'ccxt'", "broker.kind = 'ccxt' sends real orders"),
        ("mode = 'testnet'", "mode = 'testnet' trades on the exchange: set broker.kind = 'ccxt'"),
        (
            "mode = 'testnet'\n[broker]\nkind = 'ccxt'",
            "mode = 'testnet' needs the exchange's own prices: set feed.kind = 'ccxt'",
        ),
        ("mode = 'live'\n" + EXCHANGE, "set exchange.allow_live = true to allow it"),
        ("[feed]\nkind = 'ccxt'\n[clock]\nspeed = 60.0", "clock.speed: a real market runs"),
        ("[exchange]\nid = 'nowhere'", "exchange.id: 'nowhere' is not an exchange ccxt knows"),
    ],
)
def test_inconsistent_modes_are_refused_with_the_field_named(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text))
    assert expected in str(error.value)


def test_paper_mode_may_use_real_prices_with_simulated_fills(tmp_path):
    settings = load_config(write(tmp_path, "[feed]\nkind = 'ccxt'\n[clock]\nspeed = 1.0\n"))
    assert (settings.mode, settings.feed.kind, settings.broker.kind) == ("paper", "ccxt", "paper")
    assert not settings.sandbox


def test_an_exchange_mode_without_keys_is_refused_before_anything_starts(tmp_path, volt_home):
    path = write(tmp_path, "mode = 'testnet'\n" + EXCHANGE)
    env = {"VOLT_API_KEY": "", "VOLT_API_SECRET": ""}
    result = run_engine("check", "--config", str(path), **env)
    assert result.returncode == 2
    assert "needs exchange API keys: set VOLT_API_KEY and VOLT_API_SECRET" in result.stderr


def test_keys_come_from_a_dotenv_file_and_are_never_printed(tmp_path, volt_home):
    (volt_home / ".env").write_text("VOLT_API_KEY=abc-key-123\nVOLT_API_SECRET=xyz-secret-456\n")
    path = write(tmp_path, "mode = 'testnet'\n" + EXCHANGE)
    result = run_engine("check", "--config", str(path), VOLT_API_KEY="", VOLT_API_SECRET="")
    assert result.returncode == 0, result.stderr
    assert f"API keys from {volt_home / '.env'}" in result.stdout
    assert "abc-key-123" not in result.stdout + result.stderr
    assert "xyz-secret-456" not in result.stdout + result.stderr


def test_a_live_worker_without_the_typed_confirmation_does_not_start(tmp_path, volt_home):
    path = write(tmp_path, LIVE)
    keys = {"VOLT_API_KEY": "k", "VOLT_API_SECRET": "s"}
    result = run_engine("run", "--config", str(path), **keys)
    assert result.returncode == 2
    assert "a live worker needs the typed confirmation: --confirm-live LIVE" in result.stderr
    wrong = run_engine("run", "--config", str(path), "--confirm-live", "yes", **keys)
    assert wrong.returncode == 2
    assert "--confirm-live: type the word LIVE exactly" in wrong.stderr


def test_a_worker_refuses_a_config_changed_since_its_supervisor_started(
    tmp_path, volt_home, store, monkeypatch
):
    started = {}

    class Spawned:
        pid = 4242

    def spawn(cmd, **kwargs):
        started.update(cmd=cmd, **kwargs)
        return Spawned()

    with monkeypatch.context() as patch:
        patch.setattr("engine.runtime.supervisor.subprocess.Popen", spawn)
        Supervisor(load_config(write(tmp_path, "")), store[1]).start_worker()  # paper
    assert started["stdin"] == subprocess.DEVNULL  # a worker never prompts
    given = started["cmd"][started["cmd"].index("--supervised-setup") + 1]
    assert given.startswith("paper:")
    # Meanwhile someone switched the file to live: the paper supervisor's worker refuses it.
    path = write(tmp_path, LIVE)
    keys = {"VOLT_API_KEY": "k", "VOLT_API_SECRET": "s"}
    result = run_engine(
        "run", "--config", str(path), "--supervised-setup", given, "--confirm-live", "LIVE", **keys
    )
    assert result.returncode == 2
    assert "started for paper mode, the file now says live mode" in result.stderr


def test_an_unconfirmed_live_supervisor_waits_for_the_word_typed_on_the_dashboard(
    tmp_path, store, caplog
):
    settings = load_config(write(tmp_path, LIVE))
    file_evidence(store[1], settings)  # good evidence: the word alone confirms
    supervisor = Supervisor(settings, store[1])
    assert not supervisor.live.may_trade()
    assert read_state(store[1]).status == "confirm_live"
    ok, message = supervisor.start_trading(1)
    assert not ok and "type LIVE on the Control page first" in message
    wrong = submit_command(store[1], "confirm_live", {"typed": "live"})
    ok, message = supervisor.live.confirm(wrong, {"typed": "live"})
    assert not ok and supervisor.live.may_trade() is False
    right = submit_command(store[1], "confirm_live", {"typed": "LIVE"})
    ok, message = supervisor.live.confirm(right, {"typed": "LIVE"})
    assert ok and supervisor.live.may_trade()
    said = [r.getMessage() for r in caplog.records if getattr(r, "kind", "") == "live_confirmation"]
    assert "no worker starts until someone types LIVE" in said[0]
    assert "LIVE trading confirmed on the dashboard" in said[1]


def test_a_confirmation_typed_before_the_supervisor_started_does_not_count(tmp_path, store):
    old = submit_command(store[1], "confirm_live", {"typed": "LIVE"})  # the engine was down
    supervisor = Supervisor(load_config(write(tmp_path, LIVE)), store[1])
    supervisor.handle_commands()
    assert not supervisor.live.confirmed and not supervisor.live.may_trade()
    stale = get_command(store[1], old)
    assert stale.status == "failed" and "typed before this supervisor started" in stale.result

    another = submit_command(store[1], "confirm_live", {"typed": "LIVE"})
    later = Supervisor(load_config(write(tmp_path, LIVE)), store[1])
    later.stop_requested.set()  # run() only does its start-up work
    later.run()
    stale = get_command(store[1], another)
    assert stale.status == "failed" and "type LIVE again" in stale.result
    assert not later.live.confirmed


def test_paper_and_testnet_supervisors_need_no_confirmation(tmp_path, store):
    assert Supervisor(load_config(), store[1]).live.may_trade()


@pytest.mark.parametrize(
    ("text", "box", "word"),
    [("", "info", "PAPER"), ("mode = 'testnet'\n" + EXCHANGE, "warning", "TESTNET"),
     (LIVE, "error", "LIVE")],
)  # fmt: skip
def test_every_page_shows_the_mode_in_its_own_colour(
    tmp_path, volt_home, monkeypatch, text, box, word
):
    monkeypatch.setenv("VOLT_CONFIG", str(write(tmp_path, text)))
    for page in ("views/overview.py", "views/control.py", "views/kill_switch.py"):
        app = open_page(page)
        banners = [element.value for element in getattr(app.sidebar, box)]
        assert any(b.startswith(f"**{word}") for b in banners), (page, banners)


def test_the_control_page_takes_the_live_confirmation_and_shows_the_exchange(
    tmp_path, volt_home, store, monkeypatch
):
    monkeypatch.setenv("VOLT_CONFIG", str(write(tmp_path, LIVE)))
    file_evidence(store[1], load_config(write(tmp_path, LIVE)))  # the word alone confirms
    app = open_page("views/control.py")
    assert app.text_input(key="live_confirm_text").disabled  # no supervisor to take it
    update_state(store[1], supervisor_pid=os.getpid())
    from views.ui import _cached

    _cached.clear()  # the page caches its reads for a moment
    save_exchange_status(
        store[1],
        exchange="binance",
        mode="live",
        reachable=True,
        last_error="balances: binance unreachable or busy (RequestTimeout)",
        calls=[{"call": "balances", "ms": 84.5, "ok": True, "at": "2026-03-01T00:00:00+00:00"}],
        balances={"USDT": 512.5},
        balances_from="binance",
    )
    app = open_page("views/control.py")
    assert app.button(key="live_confirm").disabled
    app.text_input(key="live_confirm_text").input("LIVE").run()
    app.button(key="live_confirm").click().run()
    assert not app.exception
    with store[1]() as session:
        commands = session.scalars(select(Command)).all()
    assert [(c.kind, c.payload) for c in commands] == [("confirm_live", {"typed": "LIVE"})]
    text = " ".join(e.value for e in [*app.markdown, *app.error])
    assert "binance" in text and "reachable" in text
    assert "RequestTimeout" in text
    frames = [frame.value for frame in app.dataframe]
    assert any("USDT" in frame.to_string() for frame in frames)
    assert any("balances" in frame.to_string() for frame in frames)
