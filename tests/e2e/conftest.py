"""What the browser tests share: Debian's Chromium, driven by Playwright, one page per test."""

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# As root on a machine with no outside network: no sandbox, and no background connections
# that would fail at every start.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


@pytest.fixture
def page():
    """A fresh Chromium page, 1440 x 1000; each test module starts the server it needs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        yield page
        browser.close()
