"""One engine per exchange account across VOLT_HOMEs: the account is the one the exchange names
(Binance's uid), whichever key reaches it, and the API key's hash when the exchange cannot be
asked. Each test holds the locks of two "processes" in this one: flock is per open file, so
two AccountLocks conflict exactly as two processes would, and closing one's files is what
its death does."""

import os
import re

import pytest

from config import load_config
from engine.runtime.account_lock import (
    ENGINE_RUN,
    INHERITED_ENV,
    SUPERVISOR,
    AccountBusy,
    AccountLock,
    home_account,
    read_holder,
)
from tests.support.binance import TESTNET
from tests.support.fake_binance import API_KEY, API_SECRET, FakeBinance

OTHER_KEY, OTHER_SECRET = "volt-second-key-of-the-account-42", "volt-second-secret-77"


def refusal(account: str, home) -> re.Pattern:
    return re.compile(
        rf"refused: {re.escape(account)} is already traded by the supervisor \(pid "
        rf"{os.getpid()}, started \d{{4}}-\d\d-\d\d \d\d:\d\d UTC, VOLT_HOME "
        rf"{re.escape(str(home))}\); stop it with VOLT_HOME={re.escape(str(home))} "
        r"./start.sh stop"
    )


@pytest.fixture
def exchange():
    servers = []

    def start(uid: int = 1) -> FakeBinance:
        server = FakeBinance().start()
        server.uid = uid
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def engines(tmp_path, monkeypatch):
    """Starts a trading process's locks in a VOLT_HOME of its own, on a testnet key, against
    a loopback exchange; every lock shared between homes goes under tmp_path."""
    monkeypatch.setenv("VOLT_LOCKS_DIR", str(tmp_path / "locks"))
    monkeypatch.setattr("engine.venues.retry.FIRST_WAIT_SECONDS", 0.01)
    held = []

    def start(home: str, url: str, key=API_KEY, secret=API_SECRET, role=SUPERVISOR):
        monkeypatch.setenv("VOLT_HOME", str(tmp_path / home))
        monkeypatch.setenv("VOLT_API_KEY", key)
        monkeypatch.setenv("VOLT_API_SECRET", secret)
        config = tmp_path / f"{home}.toml"
        config.write_text(f'{TESTNET.format(timeout=2.0)}base_url = "{url}"\n')
        lock = AccountLock.for_trading(load_config(config), role)
        lock.acquire(patience=0)
        held.append(lock)
        return lock

    yield start
    for lock in held:
        lock.release()


def test_a_second_home_on_the_same_key_is_refused_before_asking_the_exchange(
    exchange, engines, tmp_path
):
    binance = exchange()
    engines("first", binance.url)
    asked = binance.paths().count("/api/v3/account")
    with pytest.raises(AccountBusy) as refused:
        engines("second", binance.url)
    assert refusal("the binance testnet account of this API key", tmp_path / "first").fullmatch(
        str(refused.value)
    ), refused.value
    assert binance.paths().count("/api/v3/account") == asked
    assert read_holder(home_account(tmp_path / "second")) is None  # it gave back its home


def test_another_key_of_the_same_account_is_refused_by_its_uid(exchange, engines, tmp_path):
    binance = exchange(uid=123456789)
    binance.other_keys[OTHER_KEY] = OTHER_SECRET
    engines("first", binance.url)
    with pytest.raises(AccountBusy) as refused:
        engines("second", binance.url, OTHER_KEY, OTHER_SECRET)
    assert refusal("the binance testnet account uid 123456789", tmp_path / "first").fullmatch(
        str(refused.value)
    ), refused.value
    assert OTHER_KEY not in str(refused.value) and API_KEY not in str(refused.value)
    assert read_holder(home_account(tmp_path / "second")) is None


def test_different_accounts_trade_side_by_side(exchange, engines):
    first, second = exchange(uid=1), exchange(uid=2)
    second.other_keys[OTHER_KEY] = OTHER_SECRET
    engines("first", first.url)
    engines("second", second.url, OTHER_KEY, OTHER_SECRET).release()  # no AccountBusy


def test_the_account_is_free_again_once_its_engine_is_gone(exchange, engines):
    binance = exchange(uid=7)
    binance.other_keys[OTHER_KEY] = OTHER_SECRET
    engines("first", binance.url).release()  # its files closed, as its death closes them
    engines("second", binance.url, OTHER_KEY, OTHER_SECRET)


def test_the_supervisors_worker_adopts_the_uid_lock_it_hands_down(exchange, engines, monkeypatch):
    binance = exchange(uid=5)
    supervisor = engines("first", binance.url)
    fds, env = supervisor.handed_down()
    assert len(fds) == 3  # the home, the key and the uid
    monkeypatch.setenv(INHERITED_ENV, env[INHERITED_ENV])
    worker = engines("first", binance.url, role=ENGINE_RUN)
    assert worker.fds == list(fds)


def test_the_log_says_which_account_uid_is_locked_never_the_key(exchange, engines):
    lock = engines("first", exchange(uid=31337).url)
    assert lock.notes == [
        "binance testnet account uid 31337: locked against any VOLT_HOME trading it, by any key"
    ]


def test_an_exchange_that_cannot_be_asked_leaves_the_key_lock_and_says_so(
    exchange, engines, tmp_path
):
    binance = exchange()
    url = binance.url
    binance.stop()  # down: the connection is refused
    lock = engines("first", url)
    (note,) = lock.notes
    assert note.startswith("binance testnet account not identified (account identity (balance)")
    assert note.endswith(
        "the account lock is on this API key only: another key of the same account is not "
        "recognised"
    )
    assert API_KEY not in note and API_SECRET not in note
    assert len(lock.fds) == 2  # the home and the key
    with pytest.raises(AccountBusy, match="the binance testnet account of this API key"):
        engines("second", url)


def test_a_refused_key_is_a_note_too(exchange, engines):
    binance = exchange()
    binance.revoke_key()
    (note,) = engines("first", binance.url).notes
    assert "account not identified" in note and API_KEY not in note


def test_paper_trading_asks_no_exchange(tmp_path, monkeypatch):
    monkeypatch.setenv("VOLT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VOLT_API_KEY", API_KEY)
    monkeypatch.setenv("VOLT_API_SECRET", API_SECRET)
    config = tmp_path / "paper.toml"
    config.write_text("[feed]\nkind = 'ccxt'\n")
    lock = AccountLock.for_trading(load_config(config), ENGINE_RUN)
    assert lock.identify is None
    assert lock.accounts == [home_account(tmp_path / "home")]
