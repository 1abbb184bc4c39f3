"""Which exchange account an API key trades, as the exchange itself says: two VOLT_HOMEs with
different keys of one account are one account to lock (account_lock.py). Binance names it in
its account answer (GET /api/v3/account "uid"), which ccxt's fetch_balance keeps in "info".
When the exchange cannot be asked (down, key refused, an exchange that does not say), the lock
rests on the key's hash alone, and the note says so."""

from __future__ import annotations

from dataclasses import dataclass

from config import ConfigError, Settings
from config.keys import ApiKeys
from engine.venues.errors import PermanentError, TemporaryError

# Where a balance answer's raw "info" names the account behind the key, by exchange.
ACCOUNT_ID_FIELDS = {"binance": "uid"}


@dataclass(frozen=True)
class AccountIdentity:
    uid: str | None  # None: not known, the key's hash stands alone
    note: str  # one line for the log (info level): never the key or the secret


def venue_name(exchange_id: str, sandbox: bool) -> str:
    return f"{exchange_id} {'testnet' if sandbox else 'live'}"


def ask_account_identity(settings: Settings, keys: ApiKeys) -> AccountIdentity:
    """One signed balance read (ccxt's fetch_balance, markets loaded first) with the
    exchange's own timeout; any failure is a note, never an exception."""
    from engine.venues.ccxt.exchange import make_exchange
    from engine.wiring import venue_rules

    venue = venue_name(settings.exchange.id, settings.sandbox)
    field = ACCOUNT_ID_FIELDS.get(settings.exchange.id)
    if field is None:
        return AccountIdentity(
            None, f"{venue}: no account id to ask for; the account lock is on the API key"
        )
    try:
        client = make_exchange(settings, keys, venue_rules(settings))
    except ConfigError as exc:  # the worker reports it at its own start
        return AccountIdentity(None, _unasked(venue, str(exc)))
    try:
        balance = client.call("account identity (balance)", client.api.fetch_balance)
    except (TemporaryError, PermanentError) as exc:  # messages are hidden by the client
        return AccountIdentity(None, _unasked(venue, str(exc)))
    finally:
        client.api.session.close()
    info = balance.get("info")
    uid = info.get(field) if isinstance(info, dict) else None
    if uid is None or not str(uid).strip():
        return AccountIdentity(None, _unasked(venue, f"its answer has no {field!r}"))
    uid = str(uid).strip()
    return AccountIdentity(
        uid, f"{venue} account uid {uid}: locked against any VOLT_HOME trading it, by any key"
    )


def _unasked(venue: str, why: str) -> str:
    return (
        f"{venue} account not identified ({why}); the account lock is on this API key only: "
        "another key of the same account is not recognised"
    )
