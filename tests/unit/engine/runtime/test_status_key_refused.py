"""`python -m engine status` (`./start.sh status`) says KEY REFUSED, with the exchange's reason
and what to check, while the running worker published that the exchange refuses the key."""

import os

from data.store.db import utcnow
from data.store.state import update_state
from engine.runtime import control
from engine.runtime.control import Processes, status_report

REASON = 'balances: binance {"code": -2015}. Check VOLT_API_KEY / VOLT_API_SECRET'


def running_here(monkeypatch):
    """The supervisor and its worker, as `status` finds them: this live process."""
    found = Processes(launcher=None, supervisor=os.getpid(), worker=os.getpid(), dashboard=None)
    monkeypatch.setattr(control, "find_processes", lambda factory: found)


def test_status_says_key_refused_with_the_reason(store, monkeypatch):
    running_here(monkeypatch)
    update_state(store[1], status="key refused", key_refused=REASON, key_refused_at=utcnow())
    running, report = status_report(store[1])
    assert running
    assert "engine key refused" in report
    assert f"KEY REFUSED: new entries paused; {REASON}" in report.splitlines()


def test_status_says_nothing_of_the_key_while_it_works(store, monkeypatch):
    running_here(monkeypatch)
    update_state(store[1], status="running", key_refused="")
    _running, report = status_report(store[1])
    assert "engine running" in report and "KEY REFUSED" not in report
