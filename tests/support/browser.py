"""Debian's Chromium driven by Playwright, shared by the browser tests: find it (or skip),
launch it offline, wait for a Streamlit page to settle, and list requests that left loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path(os.environ.get("VOLT_CHROMIUM", "/usr/bin/chromium"))
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def browser_or_skip():
    """Playwright's sync API, or a skip (a failure under VOLT_REQUIRE_BROWSER) with no Chromium."""
    if not CHROMIUM.exists():
        if os.environ.get("VOLT_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium)")
    return pytest.importorskip("playwright.sync_api")


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium with its background calls home switched off."""
    sync_api = browser_or_skip()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def settled(tab) -> None:
    """Wait until the page's script finished, and fail on any exception it shows."""
    tab.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    assert tab.locator("[data-testid='stException']").count() == 0, tab.inner_text("body")


def left_loopback(urls: list[str]) -> list[str]:
    """The URLs that would leave this machine (data: and blob: URLs never do)."""
    return [
        url
        for url in urls
        if urlparse(url).scheme in ("http", "https", "ws", "wss")
        and urlparse(url).hostname not in LOOPBACK
    ]
