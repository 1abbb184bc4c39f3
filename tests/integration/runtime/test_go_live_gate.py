"""The go-live gate: `engine check` shows the held-out evidence for the config about to trade;
testnet on weak evidence warns and trades; live on weak evidence (missing, old, p above 0.1)
needs TRADE WITHOUT EVIDENCE typed as well as LIVE; paper never reads it."""

from argparse import Namespace

import pytest
from sqlalchemy import select

from config import ConfigError, load_config
from config.fingerprint import strategy_fingerprint
from data.store.commands import get_command, submit_command
from data.store.models import Event
from data.store.state import read_state
from engine.runtime.evidence_gate import acknowledge_on_the_command_line
from engine.runtime.setup_check import check_supervised_setup, trading_setup
from engine.runtime.supervisor import Supervisor
from tests.support.evidence import file_evidence
from tests.support.runs import run_engine

EXCHANGE = "[feed]\nkind = 'ccxt'\n[broker]\nkind = 'ccxt'\n[clock]\nspeed = 1.0\n"
CONFIGS = {
    "paper": "",
    "testnet": "mode = 'testnet'\n" + EXCHANGE,
    "live": "mode = 'live'\n" + EXCHANGE + "[exchange]\nallow_live = true\n",
}
# No terminal: nothing prompts, as for a detached start.
KEYS = {"VOLT_API_KEY": "k", "VOLT_API_SECRET": "s", "VOLT_DETACHED": "1"}
PHRASE = "TRADE WITHOUT EVIDENCE"
LUCK = "chance-baseline p-value 0.340 is above 0.1: the held-out result could be luck"


def config(tmp_path, mode: str, extra: str = ""):
    path = tmp_path / f"{mode}{len(list(tmp_path.glob('*.toml')))}.toml"  # a new file each
    path.write_text(CONFIGS[mode] + extra)
    return path, load_config(path)


def gate_events(factory) -> list[Event]:
    with factory() as session:
        return session.scalars(select(Event).where(Event.kind == "go_live_evidence")).all()


def confirm(supervisor, factory, payload: dict):
    command_id = submit_command(factory, "confirm_live", payload)
    supervisor.handle_commands()
    return get_command(factory, command_id)


# --- engine check -----------------------------------------------------------------------------
def test_engine_check_says_a_new_config_has_no_evidence(tmp_path, volt_home, store):
    path, settings = config(tmp_path, "paper")
    result = run_engine("check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    gate = ("Go-live", "No held-out", "Paper mode")
    lines = [line for line in result.stdout.splitlines() if line.startswith(gate, 6)]
    assert lines == [
        f"volt: Go-live evidence for strategy {strategy_fingerprint(settings)}: NONE",
        "volt: No held-out evidence for this config: run python -m engine optimize --config FILE",
        "volt: Paper mode: informational only; the gate applies to testnet and live",
    ]


def test_engine_check_prints_the_evidence_for_the_config_about_to_trade(tmp_path, volt_home, store):
    path, settings = config(tmp_path, "paper")
    file_evidence(store[1], settings, days_old=2)
    file_evidence(store[1], config(tmp_path, "paper", "[risk]\nrisk_per_trade = 0.02\n")[1])
    result = run_engine("check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Go-live evidence for strategy {strategy_fingerprint(settings)}: PRESENT" in out
    assert (
        "Held out 2025-10-01 to 2025-12-31: return +4.25 % (Sharpe 1.10) vs buy-and-hold "
        "-3.10 % (Sharpe -0.40), 37 trades" in out
    )
    assert "Chance baseline p-value: 0.030 (at most 0.1 wanted)" in out
    assert "Overfitting: deflated Sharpe ratio 0.970, not flagged" in out
    assert "Data span 2024-01-01 to 2025-12-31, 200 trials" in out
    assert "2.0 days ago (at most 30 wanted)" in out


def test_engine_check_on_testnet_says_weak_evidence_only_warns(tmp_path, volt_home, store):
    path, settings = config(tmp_path, "testnet")
    file_evidence(store[1], settings, p_value=0.34)
    result = run_engine("check", "--config", str(path), **KEYS)
    assert result.returncode == 0, result.stderr
    assert f"volt: Weak: {LUCK}" in result.stdout
    assert "volt: Testnet: trades anyway, with a warning" in result.stdout


def test_engine_check_on_live_names_the_second_acknowledgement(tmp_path, volt_home, store):
    path, _ = config(tmp_path, "live")
    result = run_engine("check", "--config", str(path), **KEYS)
    assert result.returncode == 0, result.stderr
    assert "NONE" in result.stdout
    assert f"volt: Live: needs {PHRASE} typed as well as LIVE" in result.stdout


# --- live on the command line ------------------------------------------------------------------
def test_a_live_start_on_weak_evidence_with_only_the_word_is_refused_with_the_reasons(
    tmp_path, volt_home, store
):
    path, settings = config(tmp_path, "live")
    file_evidence(store[1], settings, p_value=0.34)
    result = run_engine("supervise", "--config", str(path), "--confirm-live", "LIVE", **KEYS)
    assert result.returncode == 2
    assert "live trading not started: the held-out evidence for this config is weak" in (
        result.stderr
    )
    assert LUCK in result.stderr
    assert f'--accept-weak-evidence "{PHRASE}"' in result.stderr
    assert read_state(store[1]).supervisor_pid is None  # nothing started


def test_a_wrong_phrase_is_refused(tmp_path, volt_home, store):
    path, _ = config(tmp_path, "live")
    result = run_engine(
        "supervise", "--config", str(path), "--confirm-live", "LIVE",
        "--accept-weak-evidence", "yes", **KEYS,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"--accept-weak-evidence: type the phrase {PHRASE} exactly" in result.stderr


def test_an_unsupervised_live_worker_is_held_to_the_same_gate(tmp_path, volt_home, store):
    path, _ = config(tmp_path, "live")
    result = run_engine("run", "--config", str(path), "--confirm-live", "LIVE", **KEYS)
    assert result.returncode == 2
    assert "no held-out evidence for this config" in result.stderr


def test_the_phrase_on_the_command_line_accepts_weak_evidence(tmp_path, store, monkeypatch):
    monkeypatch.setenv("VOLT_DETACHED", "1")
    _, settings = config(tmp_path, "live")
    file_evidence(store[1], settings, days_old=45)
    with pytest.raises(ConfigError, match="the evidence is 45 days old"):
        acknowledge_on_the_command_line(settings, Namespace(accept_weak_evidence=None), store[1])
    acknowledge_on_the_command_line(settings, Namespace(accept_weak_evidence=PHRASE), store[1])


def test_good_evidence_needs_only_the_word(tmp_path, store, monkeypatch):
    monkeypatch.setenv("VOLT_DETACHED", "1")
    _, settings = config(tmp_path, "live")
    file_evidence(store[1], settings)
    acknowledge_on_the_command_line(settings, Namespace(accept_weak_evidence=None), store[1])


# --- live on the Control page (the confirm_live command) ---------------------------------------
def test_the_live_confirmation_refuses_the_word_alone_when_p_is_above_a_tenth(tmp_path, store):
    _, settings = config(tmp_path, "live")
    file_evidence(store[1], settings, p_value=0.34)
    supervisor = Supervisor(settings, store[1])
    refused = confirm(supervisor, store[1], {"typed": "LIVE"})
    assert refused.status == "failed"
    assert refused.result == (
        f"not confirmed: the held-out evidence for this config is weak ({LUCK}): type "
        f"{PHRASE} as well to trade live anyway"
    )
    assert not supervisor.live.may_trade()
    with store[1]() as session:
        said = session.scalars(select(Event.message).where(Event.kind == "command_confirm_live"))
        assert LUCK in said.one()
    wrong = confirm(supervisor, store[1], {"typed": "LIVE", "accept_weak_evidence": "yes"})
    assert wrong.status == "failed" and not supervisor.live.confirmed


def test_the_live_confirmation_accepts_the_word_and_the_phrase_on_weak_evidence(tmp_path, store):
    _, settings = config(tmp_path, "live")
    file_evidence(store[1], settings, p_value=0.34)
    supervisor = Supervisor(settings, store[1])
    done = confirm(supervisor, store[1], {"typed": "LIVE", "accept_weak_evidence": PHRASE})
    assert done.status == "done", done.result
    assert supervisor.live.may_trade()


def test_the_evidence_is_read_when_the_word_is_typed_not_when_the_supervisor_started(
    tmp_path, store
):
    _, settings = config(tmp_path, "live")
    supervisor = Supervisor(settings, store[1])  # no evidence yet
    file_evidence(store[1], settings)  # a search finished meanwhile
    assert confirm(supervisor, store[1], {"typed": "LIVE"}).status == "done"


def test_a_waiting_live_supervisor_says_the_phrase_is_needed_too(tmp_path, store, caplog):
    _, settings = config(tmp_path, "live")
    Supervisor(settings, store[1]).live.may_trade()
    said = [r.getMessage() for r in caplog.records if getattr(r, "kind", "") == "live_confirmation"]
    assert f"and {PHRASE} as the held-out evidence is weak (no held-out evidence" in said[0]


def test_a_live_worker_refuses_a_strategy_changed_since_the_confirmation(tmp_path):
    _, confirmed = config(tmp_path, "live")
    _, changed = config(tmp_path, "live", "[risk]\nrisk_per_trade = 0.05\n")
    check_supervised_setup(confirmed, trading_setup(confirmed))
    with pytest.raises(ConfigError, match="live: or another strategy setting"):
        check_supervised_setup(changed, trading_setup(confirmed))


# --- testnet warns, paper is untouched ---------------------------------------------------------
def test_testnet_without_evidence_warns_at_start_and_is_not_blocked(tmp_path, volt_home, store):
    _, settings = config(tmp_path, "testnet")
    supervisor = Supervisor(settings, store[1])
    supervisor.stop_requested.set()  # run() only does its start-up work
    supervisor.run()
    (event,) = gate_events(store[1])
    assert event.level == "WARNING"
    assert event.message.startswith("testnet on weak held-out evidence: no held-out evidence")
    assert supervisor.live.confirmed and supervisor.live.may_trade()


def test_testnet_with_good_evidence_starts_without_a_warning(tmp_path, volt_home, store):
    _, settings = config(tmp_path, "testnet")
    file_evidence(store[1], settings)
    supervisor = Supervisor(settings, store[1])
    supervisor.stop_requested.set()
    supervisor.run()
    assert gate_events(store[1]) == []


def test_paper_never_reads_the_evidence(tmp_path, volt_home, store, monkeypatch):
    def no_reading(*_args, **_kwargs):
        raise AssertionError("paper trading read the go-live evidence")

    monkeypatch.setattr("engine.runtime.evidence_gate.go_live_evidence", no_reading)
    _, settings = config(tmp_path, "paper")
    supervisor = Supervisor(settings, store[1])
    supervisor.stop_requested.set()
    supervisor.run()
    assert supervisor.live.may_trade()
    assert gate_events(store[1]) == []


def test_a_paper_worker_follows_strategy_edits_as_before(tmp_path):
    _, before = config(tmp_path, "paper")
    _, after = config(tmp_path, "paper", "[risk]\nrisk_per_trade = 0.05\n")
    assert trading_setup(after) == trading_setup(before)
