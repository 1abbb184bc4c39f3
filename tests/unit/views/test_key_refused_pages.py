"""Every page's sidebar says KEY REFUSED, with the exchange's reason and what to check, when
the worker published that the exchange refuses the API key; the Control page's status line
says it instead of RUNNING."""

import os

import pytest

from data.store.db import utcnow
from data.store.state import update_state
from tests.support.pages import PAGES, open_page

REASON = (
    'balances: binance {"code": -2015, "msg": "Invalid API-key, IP, or permissions for '
    'action."}. Check VOLT_API_KEY / VOLT_API_SECRET: the key must not be expired or '
    "deleted, must allow this IP, and must be a testnet key for testnet"
)


@pytest.fixture
def key_refused(store):
    update_state(
        store[1],
        status="key refused",
        key_refused=REASON,
        key_refused_at=utcnow(),
        mode="testnet",
        worker_pid=os.getpid(),
        heartbeat_at=utcnow(),
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_key_refused_with_the_reason_and_what_to_check(key_refused, page):
    app = open_page(page)
    # The exchange's words are shown as text: Markdown escapes (VOLT\_API\_KEY) read as written.
    said = [e.value.replace("\\", "") for e in app.sidebar.error]
    assert any(
        "KEY REFUSED" in text and "-2015" in text and "VOLT_API_KEY / VOLT_API_SECRET" in text
        for text in said
    ), said


def test_the_control_pages_status_line_says_key_refused_not_running(key_refused):
    app = open_page("views/control.py")
    lines = [m.value for m in app.main.markdown]
    assert any(line.startswith("**KEY REFUSED**") for line in lines), lines
    assert not any("RUNNING" in line for line in lines)


def test_no_page_says_key_refused_while_the_key_works(store):
    update_state(store[1], status="running", key_refused="", worker_pid=os.getpid())
    app = open_page("views/control.py")
    assert not any("KEY REFUSED" in e.value for e in app.sidebar.error)
