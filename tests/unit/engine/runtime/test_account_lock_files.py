"""The account lock's files: one per exchange account, named without the key; who holds it;
and a worker adopts only the very lock its supervisor holds."""

import os

import pytest

from config import load_config
from engine.runtime.account_lock import (
    ENGINE_RUN,
    INHERITED_ENV,
    SUPERVISOR,
    Account,
    AccountBusy,
    AccountLock,
    Holder,
    exchange_account,
    home_account,
    read_holder,
    trading_accounts,
)

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path / "run" / "volt" / "accounts"


def test_an_exchange_account_lock_is_named_by_a_hash_never_the_key(runtime_dir):
    account = exchange_account("binance", True, KEY)
    assert account.path.parent == runtime_dir
    assert account.path.name.startswith("binance-testnet-")
    assert KEY not in str(account.path) and KEY[:8] not in str(account.path)
    assert KEY not in account.name


def test_the_same_key_on_the_same_venue_is_the_same_account(runtime_dir):
    assert exchange_account("binance", False, KEY) == exchange_account("binance", False, KEY)


@pytest.mark.parametrize(
    "other",
    [("binance", True, KEY), ("bybit", False, KEY), ("binance", False, KEY + "x")],
    ids=["testnet", "exchange", "key"],
)
def test_another_venue_or_key_is_another_account(runtime_dir, other):
    assert exchange_account(*other).path != exchange_account("binance", False, KEY).path


def test_without_a_runtime_dir_the_locks_live_in_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert exchange_account("binance", False, KEY).path.parent == (
        tmp_path / ".cache" / "volt" / "accounts"
    )


def test_a_second_holder_in_another_home_is_refused_naming_the_first(
    runtime_dir, volt_home, tmp_path, monkeypatch
):
    account = exchange_account("binance", True, KEY)
    first = AccountLock([account], SUPERVISOR)
    first.acquire()
    try:
        monkeypatch.setenv("VOLT_HOME", str(tmp_path / "elsewhere"))
        with pytest.raises(AccountBusy) as refused:
            AccountLock([account], ENGINE_RUN).acquire(patience=0)
    finally:
        first.release()
    assert str(refused.value).startswith(
        f"refused: the binance testnet account of this API key is already traded by the "
        f"supervisor (pid {os.getpid()}, started "
    )
    assert f"VOLT_HOME {volt_home})" in str(refused.value)


def test_the_holder_is_read_only_while_it_holds(volt_home):
    lock = AccountLock([home_account()], ENGINE_RUN)
    lock.acquire()
    holder = read_holder(home_account())
    lock.release()
    assert (holder.pid, holder.role, holder.home) == (os.getpid(), ENGINE_RUN, str(volt_home))
    assert read_holder(home_account()) is None  # the record is still there; nobody holds it


def test_a_lock_file_from_an_older_supervisor_still_names_its_pid():
    assert Holder.from_text("1234") == Holder(1234, SUPERVISOR, None, "")


def test_a_worker_adopts_the_lock_its_supervisor_hands_down(volt_home, monkeypatch):
    supervisor = AccountLock([home_account()], SUPERVISOR)
    supervisor.acquire()
    fds, env = supervisor.handed_down()
    monkeypatch.setenv(INHERITED_ENV, env[INHERITED_ENV])
    worker = AccountLock([home_account()], ENGINE_RUN)
    worker.acquire(patience=0)  # the same open file: flock grants it
    assert worker.fds == list(fds)
    assert INHERITED_ENV not in os.environ
    assert read_holder(home_account()).role == SUPERVISOR  # the worker rewrote nothing
    worker.release()


def test_a_handed_down_fd_of_another_open_of_the_file_is_not_the_lock(volt_home, monkeypatch):
    holder = AccountLock([home_account()], SUPERVISOR)
    holder.acquire()
    forged = os.open(home_account().path, os.O_RDWR)  # same file, not the holder's lock
    monkeypatch.setenv(INHERITED_ENV, str(forged))
    try:
        with pytest.raises(AccountBusy, match="already traded by the supervisor"):
            AccountLock([home_account()], ENGINE_RUN).acquire(patience=0)
    finally:
        holder.release()


def test_a_failed_second_lock_gives_back_the_first(volt_home, runtime_dir):
    exchange = exchange_account("binance", False, KEY)
    busy = AccountLock([exchange], SUPERVISOR)
    busy.acquire()
    try:
        with pytest.raises(AccountBusy):
            AccountLock([home_account(), exchange], ENGINE_RUN).acquire(patience=0)
        assert read_holder(home_account()) is None
    finally:
        busy.release()


def test_an_unreadable_record_still_refuses(tmp_path):
    account = Account(tmp_path / "x.lock", "this account")
    holder = AccountLock([account], SUPERVISOR)
    holder.acquire()
    os.pwrite(holder.fds[0], b"\0garbage" * 10, 0)
    try:
        with pytest.raises(AccountBusy, match=r"already traded by another process \(lock "):
            AccountLock([account], ENGINE_RUN).acquire(patience=0)
    finally:
        holder.release()


def test_a_database_named_outside_the_home_is_one_account_for_every_home(
    runtime_dir, tmp_path, monkeypatch
):
    url = "postgresql://volt:s3cret@127.0.0.1/volt"
    monkeypatch.delenv("VOLT_CONFIG", raising=False)
    monkeypatch.setenv("VOLT_DB_URL", url)
    monkeypatch.setenv("VOLT_HOME", str(tmp_path / "one-home"))
    first = trading_accounts(load_config())
    monkeypatch.setenv("VOLT_HOME", str(tmp_path / "another-home"))
    second = trading_accounts(load_config())
    assert first[0] != second[0]  # each home's own lock
    assert first[1] == second[1]  # and the database they share
    assert first[1].path.parent == runtime_dir and "s3cret" not in str(first[1].path)
    assert first[1].name == "the account in the database of VOLT_DB_URL"
