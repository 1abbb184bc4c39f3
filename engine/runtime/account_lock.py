"""One trading process per account. Whoever trades or books into an account (the supervisor
and, through it, its worker and kill switch; a standalone `engine run` or replay) holds its
locks; a second one is refused with one line naming the first.

The accounts guarded: the VOLT_HOME's own (VOLT_HOME/volt.lock: its store and paper
exchange); a database named by VOLT_DB_URL (or VOLT_PAPER_DB_URL), which other VOLT_HOMEs
may name too; and, on an exchange, the exchange account behind the API key, which other
VOLT_HOMEs may share, and the account uid the exchange names for that key
(exchange_identity.py; asked once the others are held), which other keys may share. The
shared ones are lock files in a per-user directory (VOLT_LOCKS_DIR overrides it) named by a
hash (of the URL; of exchange, sandbox flag and key or uid), never the URL or the key. Each is an
flock on an open file: the kernel frees it when the last holder dies, SIGKILL included, so
what a dead holder wrote there never blocks the next start. The supervisor's worker
inherits the supervisor's open files (their fds in VOLT_ACCOUNT_LOCKS): both hold the same
lock, and it stays held while either still runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from config import Settings
from data.store.db import utcnow, volt_home
from engine.runtime.exchange_identity import venue_name

HOME_LOCK = "volt.lock"
INHERITED_ENV = "VOLT_ACCOUNT_LOCKS"  # fds a supervisor hands its worker: "5,6"
LOCKS_DIR_ENV = "VOLT_LOCKS_DIR"  # where the locks shared by every VOLT_HOME are
SUPERVISOR = "supervisor"
ENGINE_RUN = "engine run"
ROLE_NAMES = {SUPERVISOR: "the supervisor", ENGINE_RUN: "`python -m engine run`"}


class AccountBusy(Exception):
    """Another process already trades this account; the message is the one line to show."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its holder wrote it into the lock file."""

    pid: int
    role: str  # SUPERVISOR or ENGINE_RUN
    started: datetime | None
    home: str

    @classmethod
    def me(cls, role: str) -> Holder:
        return cls(os.getpid(), role, utcnow(), str(volt_home()))

    def to_text(self) -> str:
        started = self.started.isoformat() if self.started else None
        record = {"pid": self.pid, "role": self.role, "started": started, "home": self.home}
        return json.dumps(record) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Holder | None:
        text = text.strip()
        if text.isdigit():  # written by a supervisor from before this record
            return cls(int(text), SUPERVISOR, None, "")
        try:
            record = json.loads(text)
            started = record.get("started")
            return cls(
                int(record["pid"]),
                str(record.get("role") or SUPERVISOR),
                datetime.fromisoformat(started).astimezone(UTC) if started else None,
                str(record.get("home") or ""),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def stop_command(self) -> str:
        """`stop` finds the holder through its VOLT_HOME's lock: name the home when it is not
        this one."""
        if self.home and Path(self.home) != volt_home():
            return f"VOLT_HOME={self.home} ./start.sh stop"
        return "./start.sh stop"

    def describe(self) -> str:
        who = ROLE_NAMES.get(self.role, "another process")
        details = [f"pid {self.pid}"]
        if not _alive(self.pid):
            details[0] += ", gone: its worker is still stopping"
        if self.started:
            details.append(f"started {self.started:%Y-%m-%d %H:%M} UTC")
        if self.home:
            details.append(f"VOLT_HOME {self.home}")
        return f"{who} ({', '.join(details)})"


@dataclass(frozen=True)
class Account:
    """One thing two engines must not trade at once, and the file that guards it."""

    path: Path
    name: str  # how the refusal names it


def home_account(home: Path | None = None) -> Account:
    return Account((home or volt_home()) / HOME_LOCK, "this account")


def shared_locks_dir() -> Path:
    """Per user, shared by every VOLT_HOME: the runtime dir (tmpfs) when there is one."""
    if chosen := os.environ.get(LOCKS_DIR_ENV):
        return Path(chosen)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "volt" if runtime else Path.home() / ".cache" / "volt"
    return base / "accounts"


def _shared_lock(stem: str, *parts: str) -> Path:
    """A lock file every VOLT_HOME finds, named by a hash of `parts` (never a key or URL)."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return shared_locks_dir() / f"{stem}-{digest[:20]}.lock"


def _venue(exchange_id: str, sandbox: bool) -> str:
    return venue_name(exchange_id, sandbox).replace(" ", "-")


def exchange_account(exchange_id: str, sandbox: bool, api_key: str) -> Account:
    """The exchange account behind an API key; the file name carries a hash, never the key."""
    return Account(
        _shared_lock(_venue(exchange_id, sandbox), exchange_id, str(sandbox), api_key),
        f"the {venue_name(exchange_id, sandbox)} account of this API key",
    )


def exchange_uid_account(exchange_id: str, sandbox: bool, uid: str) -> Account:
    """The exchange account the exchange itself names: every key of it, every VOLT_HOME."""
    return Account(
        _shared_lock(f"{_venue(exchange_id, sandbox)}-uid", exchange_id, str(sandbox), "uid", uid),
        f"the {venue_name(exchange_id, sandbox)} account uid {uid}",
    )


def store_account(variable: str, url: str) -> Account:
    """A database named outside VOLT_HOME, which other VOLT_HOMEs may name too."""
    return Account(_shared_lock("store", url.strip()), f"the account in the database of {variable}")


def trading_accounts(settings: Settings) -> list[Account]:
    """Every account a process trading with `settings` writes: the home's, a database set
    outside it, and the exchange account when orders go to an exchange with keys."""
    accounts = [home_account()]
    stores = ["VOLT_DB_URL"] + (["VOLT_PAPER_DB_URL"] if settings.broker.kind == "paper" else [])
    for variable in stores:
        if url := os.environ.get(variable):
            accounts.append(store_account(variable, url))
    if settings.broker.kind == "ccxt":
        from config.keys import load_api_keys

        keys = load_api_keys()
        if keys is not None:
            accounts.append(exchange_account(settings.exchange.id, settings.sandbox, keys.key))
    return accounts


Identify = Callable[[], tuple[Account | None, str]]  # the uid's account if known; a note


def exchange_identity(settings: Settings) -> Identify | None:
    """How to ask which exchange account the keys trade, when orders go to an exchange."""
    if settings.broker.kind != "ccxt":
        return None
    from config.keys import load_api_keys

    keys = load_api_keys()
    if keys is None:
        return None
    from engine.runtime.exchange_identity import ask_account_identity

    def identify() -> tuple[Account | None, str]:
        asked = ask_account_identity(settings, keys)
        if asked.uid is None:
            return None, asked.note
        return exchange_uid_account(settings.exchange.id, settings.sandbox, asked.uid), asked.note

    return identify


def read_holder(account: Account) -> Holder | None:
    """The live holder of `account`, or None when nobody holds its lock (a file left by a
    dead holder says nothing)."""
    try:
        fd = os.open(account.path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Holder.from_text(os.pread(fd, 4096, 0).decode(errors="replace")) or Holder(
                0, "unknown", None, ""
            )
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class AccountLock:
    """The locks of every account a trading process writes, taken together or not at all."""

    def __init__(
        self, accounts: list[Account], role: str, identify: Identify | None = None
    ) -> None:
        self.accounts = accounts
        self.role = role
        self.fds: list[int] = []
        # Asked only once the other locks are held: a second engine on this home or this
        # key is refused without a call to the exchange.
        self.identify = identify
        self.notes: list[str] = []  # what the exchange said, for the holder's log

    @classmethod
    def for_trading(cls, settings: Settings, role: str) -> AccountLock:
        return cls(trading_accounts(settings), role, exchange_identity(settings))

    def acquire(self, patience: float = 2.0) -> None:
        """Take every lock, adopting the ones a supervisor handed down; raises AccountBusy
        naming the holder. `patience` waits out `status`, which probes a lock for an instant."""
        inherited = _inherited_fds()
        try:
            for account in self.accounts:
                self.fds.append(_adopt(account, inherited) or _take(account, self.role, patience))
            if self.identify is not None:
                asked, note = self.identify()
                self.identify = None
                self.notes.append(note)
                if asked is not None:
                    self.accounts = [*self.accounts, asked]
                    self.fds.append(_adopt(asked, inherited) or _take(asked, self.role, patience))
        except BaseException:
            self.release()
            raise
        finally:
            for fd in set(inherited) - set(self.fds):
                os.close(fd)

    def handed_down(self) -> tuple[tuple[int, ...], dict[str, str]]:
        """`pass_fds` and the environment entry that let a child process share these locks."""
        fds = tuple(self.fds)
        return fds, {INHERITED_ENV: ",".join(str(fd) for fd in fds)}

    def release(self) -> None:
        """Close, not LOCK_UN: a worker sharing the lock keeps it until it exits too."""
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


def _take(account: Account, role: str, patience: float) -> int:
    account.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(account.path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            text = os.pread(fd, 4096, 0).decode(errors="replace")
            os.close(fd)
            holder = Holder.from_text(text)
            who = holder.describe() if holder else f"another process (lock {account.path})"
            raise AccountBusy(
                f"refused: {account.name} is already traded by {who}; stop it with "
                f"{holder.stop_command() if holder else './start.sh stop'}"
            ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, Holder.me(role).to_text().encode(), 0)
    return fd


def _adopt(account: Account, inherited: list[int]) -> int | None:
    """The fd handed down for this account's file, re-checked: flock on the supervisor's own
    open file succeeds, one on anybody else's does not."""
    try:
        wanted = os.stat(account.path)
    except FileNotFoundError:
        return None
    for fd in inherited:
        found = os.fstat(fd)
        if (found.st_dev, found.st_ino) != (wanted.st_dev, wanted.st_ino):
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        inherited.remove(fd)
        os.set_inheritable(fd, False)  # no grandchild of the worker holds it
        return fd
    return None


def _inherited_fds() -> list[int]:
    """The fds a supervisor handed down, taken once out of the environment; anything that
    is not an open file is ignored."""
    text = os.environ.pop(INHERITED_ENV, "")
    fds = []
    for part in text.split(","):
        if part.strip().isdigit():
            fd = int(part)
            with contextlib.suppress(OSError):
                os.fstat(fd)
                fds.append(fd)
    return fds


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
