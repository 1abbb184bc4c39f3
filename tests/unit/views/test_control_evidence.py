"""The Control page's go-live evidence panel: none, weak (with why) or present for the config
about to trade; testnet warns; live on weak evidence asks for TRADE WITHOUT EVIDENCE too."""

import os

from sqlalchemy import select

from config import load_config
from config.fingerprint import strategy_fingerprint
from data.store.models import Command
from data.store.state import update_state
from tests.support.evidence import file_evidence
from tests.support.pages import open_page

EXCHANGE = "[feed]\nkind = 'ccxt'\n[broker]\nkind = 'ccxt'\n[clock]\nspeed = 1.0\n"
CONFIGS = {
    "paper": "",
    "testnet": "mode = 'testnet'\n" + EXCHANGE,
    "live": "mode = 'live'\n" + EXCHANGE + "[exchange]\nallow_live = true\n",
}
PHRASE = "TRADE WITHOUT EVIDENCE"


def use_config(tmp_path, monkeypatch, mode: str):
    path = tmp_path / f"{mode}.toml"
    path.write_text(CONFIGS[mode])
    monkeypatch.setenv("VOLT_CONFIG", str(path))
    return load_config(path)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_paper_without_evidence_shows_none_for_information_only(
    tmp_path, volt_home, store, monkeypatch
):
    settings = use_config(tmp_path, monkeypatch, "paper")
    app = open_page("views/control.py")
    assert "Go-live evidence" in texts(app.subheader)
    head = f"Go-live evidence for strategy {strategy_fingerprint(settings)}: NONE"
    assert f"{head} · paper mode: informational only" in texts(app.info)
    assert any("run python -m engine optimize" in text for text in texts(app.markdown))


def test_present_evidence_shows_the_held_out_result_and_its_age(
    tmp_path, volt_home, store, monkeypatch
):
    settings = use_config(tmp_path, monkeypatch, "paper")
    file_evidence(store[1], settings, days_old=3)
    app = open_page("views/control.py")
    assert texts(app.success) == [
        f"Go-live evidence for strategy {strategy_fingerprint(settings)}: PRESENT"
    ]
    details = " ".join(texts(app.markdown))
    assert "return +4.25 % (Sharpe 1.10) vs buy-and-hold -3.10 % (Sharpe -0.40)" in details
    assert "Chance baseline p-value: 0.030" in details
    assert "Overfitting: deflated Sharpe ratio 0.970, not flagged" in details
    assert "3.0 days ago" in details


def test_testnet_without_evidence_warns_and_offers_no_block(
    tmp_path, volt_home, store, monkeypatch
):
    use_config(tmp_path, monkeypatch, "testnet")
    app = open_page("views/control.py")
    warnings = " ".join(texts(app.warning))
    assert "NONE" in warnings
    assert "Testnet trades without good held-out evidence (no held-out evidence" in warnings
    assert "live_accept_weak_text" not in [box.key for box in app.text_input]


def test_live_on_weak_evidence_needs_the_phrase_before_the_confirmation_is_sent(
    tmp_path, volt_home, store, monkeypatch
):
    settings = use_config(tmp_path, monkeypatch, "live")
    file_evidence(store[1], settings, p_value=0.34)
    update_state(store[1], supervisor_pid=os.getpid())
    app = open_page("views/control.py")
    reasons = " ".join(texts(app.error))
    assert "The held-out evidence is weak: chance-baseline p-value 0.340 is above 0.1" in reasons
    app.text_input(key="live_confirm_text").input("LIVE").run()
    assert app.button(key="live_confirm").disabled  # the word alone is not enough
    app.text_input(key="live_accept_weak_text").input(PHRASE).run()
    assert not app.button(key="live_confirm").disabled
    app.button(key="live_confirm").click().run()
    assert not app.exception
    with store[1]() as session:
        sent = session.scalars(select(Command)).all()
    assert [(c.kind, c.payload) for c in sent] == [
        ("confirm_live", {"typed": "LIVE", "accept_weak_evidence": PHRASE})
    ]


def test_live_on_good_evidence_asks_for_the_word_alone(tmp_path, volt_home, store, monkeypatch):
    settings = use_config(tmp_path, monkeypatch, "live")
    file_evidence(store[1], settings)
    update_state(store[1], supervisor_pid=os.getpid())
    app = open_page("views/control.py")
    assert "live_accept_weak_text" not in [box.key for box in app.text_input]
    app.text_input(key="live_confirm_text").input("LIVE").run()
    assert not app.button(key="live_confirm").disabled
