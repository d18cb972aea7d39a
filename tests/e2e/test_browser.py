"""The console in a real browser: Debian's Chromium driven by Playwright against
`streamlit run app.py` on the sandbox. Screenshots of each page land in artifacts/screenshots/.
"""

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM
from tests.support.servers import start_console

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "browserTestSecret/DoNotShow+0123456789ab"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed: `make test` installs it (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def slow_console(tmp_path_factory):
    # Speed 1.5: the first sync of the sample data source lasts about 25 s, time enough to
    # reload, look from a second session and stop it.
    server = start_console(
        tmp_path_factory.mktemp("browser-slow"), {"KBSYNC_SANDBOX_SPEED": "1.5"}
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    # Speed 10: a sample sync takes a few seconds, long enough to watch it change on screen.
    server = start_console(
        tmp_path_factory.mktemp("browser"), {"KBSYNC_SANDBOX_SPEED": "10"}
    )
    yield server
    server.stop()



def type_into(page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Enter")  # Streamlit takes a text input's value on Enter or blur


def test_start_a_sync_watch_it_complete_and_find_it_in_history(console, page):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    from_server: list[bytes] = []
    page.on(
        "websocket",
        lambda socket: socket.on(
            "framereceived",
            lambda frame: from_server.append(frame if isinstance(frame, bytes) else frame.encode()),
        ),
    )
    # The console works under kbsync's Content-Security-Policy: nothing it needs is refused.
    refused = []
    page.on(
        "console",
        lambda message: refused.append(message.text)
        if "Content Security Policy" in message.text else None,
    )
    page.goto(console.url)
    expect(page.get_by_text("Sandbox: simulated AWS, nothing leaves this machine")).to_be_visible()
    expect(page.get_by_label("Knowledge base ID", exact=True)).to_have_value("SANDBOXKB1")
    expect(page.get_by_label("Data source ID", exact=True)).to_have_value("SANDBOXDS1")
    start = page.get_by_role("button", name="Start sync")
    expect(start).to_be_disabled()

    type_into(page, "Access key ID", ACCESS_KEY_ID)
    type_into(page, "Secret access key", SECRET)
    expect(start).to_be_enabled()
    # A full reload would wipe this marker: the page must update itself.
    page.evaluate("window.kbsyncNoReload = true")
    start.click()

    expect(page.get_by_text("Running").first).to_be_visible()
    expect(page.get_by_role("button", name="Stop sync")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "sync-running.png", full_page=True)
    expect(page.get_by_text("Completed").first).to_be_visible()
    expect(page.get_by_text("Sync completed successfully.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Scanned 20 · New 20 ·"))).to_be_visible()
    assert page.evaluate("window.kbsyncNoReload") is True
    job_id = re.search(r"Ingestion job started: (\w{10})", page.content()).group(1)
    # The secret sits in the browser's own password field; the server never sends it back.
    assert any(b"SANDBOXKB1" in frame for frame in from_server)  # what it does send is seen
    assert not any(SECRET.encode() in frame for frame in from_server)
    page.screenshot(path=SCREENSHOTS / "sync.png", full_page=True)

    page.get_by_role("link", name="History").click()
    expect(page.get_by_text("1 shown of the 1 newest syncs of")).to_be_visible()
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    expect(grid.get_by_text(job_id)).to_be_attached()
    page.screenshot(path=SCREENSHOTS / "history.png", full_page=True)
    assert refused == []


def test_a_reload_a_second_session_and_a_stop_in_both_languages(slow_console, page):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(slow_console.url)
    type_into(page, "Access key ID", ACCESS_KEY_ID)
    type_into(page, "Secret access key", SECRET)
    page.get_by_role("button", name="Start sync").click()
    expect(page.get_by_text("Running").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]execution=[0-9a-f-]{36}"))

    # A reload keeps watching the same sync, Stop included (the keys are not in the page any
    # more: this process holds them).
    page.reload()
    expect(page.get_by_role("button", name="Stop sync")).to_be_visible()
    expect(page.get_by_text("Running").first).to_be_visible()

    # A second browser session, on a phone-wide screen, sees the data source busy and why it
    # cannot start another.
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    other = phone.new_page()
    other.goto(f"{slow_console.url}/?connection=sandbox")
    expect(other.get_by_text("A sync runs on data source")).to_be_visible()
    expect(other.get_by_role("button", name="Start sync")).to_be_disabled()
    expect(other.get_by_text("Start is off while a sync runs on this data source")).to_be_visible()
    other.screenshot(path=SCREENSHOTS / "sync-busy-390.png", full_page=True)
    phone.close()

    page.get_by_role("button", name="Stop sync").click()
    expect(page.get_by_text("Stopping").first).to_be_visible()
    expect(page.get_by_role("button", name="Stop sync")).to_be_disabled()
    page.screenshot(path=SCREENSHOTS / "sync-stopping.png", full_page=True)
    expect(page.get_by_text("Stopped").first).to_be_visible()

    # One language at a time: the switch names each in its own words.
    page.get_by_text("Español", exact=True).click()
    expect(page.get_by_text("Detenido").first).to_be_visible()
    expect(page.get_by_role("button", name="Iniciar sincronización")).to_be_visible()
    expect(page.get_by_text("Sincronización detenida.")).to_be_visible()
    # Choices shown in words stay chosen in the new words.
    expect(page.get_by_role("radio", name="Usar claves de acceso")).to_be_checked()
    page.screenshot(path=SCREENSHOTS / "sync-stopped-es.png", full_page=True)
