"""Logging in to the console in a real browser, against a local OpenID Connect provider
(oidc-provider-mock) this test starts: an operator gets the Sync page with `Start sync`
enabled, a viewer gets it disabled, neither gets the Connections page; an admin adds, edits,
tests and deletes a connection there. Roles go by the ID token's `email`, not its subject."""

import importlib.util
import json
import sys

import pytest

from tests.e2e.conftest import CHROMIUM
from tests.support.servers import (
    LOCALHOST,
    RunningServer,
    clean_environment,
    free_port,
    port_accepts,
    start_console,
)

USERS = {
    "operator-1": "ops@example.com",
    "viewer-1": "eve@example.com",
    "admin-1": "ada@admins.example",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed: `make test` installs it (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    if importlib.util.find_spec("oidc_provider_mock") is None:
        pytest.skip("oidc-provider-mock is not installed: `make test` installs it")
    port = free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", LOCALHOST, "--port", str(port)]
    for sub, email in USERS.items():
        command += ["--user-claims", json.dumps({"sub": sub, "email": email})]
    server = RunningServer(
        "oidc", command, clean_environment({}), port, tmp_path_factory.mktemp("oidc"),
        is_ready=lambda running: port_accepts(running.port),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory, provider):
    data_dir = tmp_path_factory.mktemp("login")
    port = free_port()
    secrets = data_dir / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://{LOCALHOST}:{port}/oauth2callback"\n'
        'cookie_secret = "browser-login-test-cookie-secret-0123456789"\n'
        'client_id = "kbsync-e2e"\n'
        'client_secret = "kbsync-e2e-client-secret"\n'
        f'server_metadata_url = "http://{LOCALHOST}:{provider.port}'
        '/.well-known/openid-configuration"\n'
    )
    server = start_console(
        data_dir,
        {
            "KBSYNC_OPERATORS": "OPS@example.com",
            "KBSYNC_VIEWERS": "@example.com",
            "KBSYNC_ADMINS": "ada@admins.example",
        },
        port=port,
        extra_args=("--secrets.files", str(secrets)),
    )
    yield server
    server.stop()


def log_in_as(page, console, sub: str) -> None:
    from playwright.sync_api import expect

    page.goto(console.url)
    login = page.get_by_role("button", name="Log in")
    expect(login).to_be_visible()
    expect(page.get_by_role("button", name="Start sync")).to_have_count(0)
    login.click()
    # The provider's form: one button per predefined user, named by its subject.
    page.get_by_role("button", name=sub, exact=True).click()
    expect(page.get_by_text(f"Logged in as {USERS[sub]}")).to_be_visible()


@pytest.mark.parametrize(("sub", "can_start"), [("operator-1", True), ("viewer-1", False)])
def test_log_in_and_get_the_role_of_the_email_claim(console, page, sub, can_start):
    from playwright.sync_api import expect

    log_in_as(page, console, sub)
    expect(page.get_by_role("heading", name="Sync")).to_be_visible()
    start = page.get_by_role("button", name="Start sync")
    expect(start).to_be_visible()
    if can_start:
        page.get_by_label("Access key ID", exact=True).fill("AKIAIOSFODNN7EXAMPLE")
        page.get_by_label("Access key ID", exact=True).press("Enter")
        page.get_by_label("Secret access key", exact=True).fill("loginTestSecret/0123456789")
        page.get_by_label("Secret access key", exact=True).press("Enter")
        expect(start).to_be_enabled()
        expect(page.get_by_text("needs the operator role")).to_have_count(0)
    else:
        expect(start).to_be_disabled()
        needed = page.get_by_text("Starting and stopping syncs needs the operator role.")
        expect(needed).to_be_visible()
    # Connections are for admins: not in the navigation, and its URL gives no way to change one.
    expect(page.get_by_role("link", name="Connections")).to_have_count(0)
    page.goto(console.url + "/connections")
    expect(page.get_by_role("heading", name="Sync")).to_be_visible()
    for control in ("Add connection", "Save changes", "Delete"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    expect(page.get_by_role("tab", name="Add a connection")).to_have_count(0)


def wait_for_the_run(page) -> None:
    """Until the script run a click started is over, so that the next click lands on what that
    run drew (call it once something the run draws is seen: until then it may not have begun)."""
    from playwright.sync_api import expect

    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-script-state", "notRunning")


def test_an_admin_adds_edits_tests_and_deletes_a_connection(console, page):
    from playwright.sync_api import expect

    log_in_as(page, console, "admin-1")
    page.get_by_role("link", name="Connections").click()
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name="Connections")).to_be_visible()
    listed = main.get_by_test_id("stDataFrame")
    expect(listed.get_by_text("sandbox-failing", exact=True)).to_be_attached()

    adding = main.get_by_role("tabpanel", name="Add a connection")
    for label, value in (
        ("ID", "e2e-handbook"), ("Name", "Handbook (e2e)"), ("Region", "us-east-1"),
        ("Knowledge base ID", "SANDBOXKB1"), ("Data source ID", "SANDBOXDS1"),
    ):
        adding.get_by_label(label, exact=True).fill(value)
    adding.get_by_role("button", name="Add connection").click()
    expect(main.get_by_text("Saved the connection e2e-handbook.")).to_be_visible()
    expect(listed.get_by_text("e2e-handbook", exact=True)).to_be_attached()
    expect(listed.get_by_text("Handbook (e2e)", exact=True)).to_be_attached()
    wait_for_the_run(page)
    # An empty form for the next one (the browser must not re-send the old values).
    expect(adding.get_by_label("ID", exact=True)).to_have_value("")
    expect(adding.get_by_label("Name", exact=True)).to_have_value("")

    # The list picks the new connection: its edit form and Test act on it.
    edit_tab = main.get_by_role("tab", name="Edit or delete the chosen one")
    editing = main.get_by_role("tabpanel", name="Edit or delete the chosen one")
    edit_tab.click()
    name = editing.get_by_label("Name", exact=True)
    expect(name).to_have_value("Handbook (e2e)")
    name.fill("Handbook, renamed")
    editing.get_by_role("button", name="Save changes").click()
    expect(listed.get_by_text("Handbook, renamed", exact=True)).to_be_attached()
    expect(listed.get_by_text("Handbook (e2e)", exact=True)).to_have_count(0)
    wait_for_the_run(page)

    picked = main.get_by_role("combobox", name="Connection", exact=True)
    expect(picked).to_have_value("e2e-handbook — Handbook, renamed")
    main.get_by_role("button", name="Test").click()
    tested = main.get_by_test_id("stAlert").filter(has_text="Knowledge base")
    expect(tested).to_contain_text("kbsync-sandbox-knowledge-base (SANDBOXKB1): ACTIVE")
    expect(tested).to_contain_text("ops-handbook (SANDBOXDS1): AVAILABLE, type S3")
    wait_for_the_run(page)

    # The tabs are keyed: Test's result coming and going leaves the edit tab open.
    expect(edit_tab).to_have_attribute("aria-selected", "true")
    editing.get_by_role("button", name="Delete").click()
    expect(tested).to_have_count(0)  # the Delete's run has begun
    wait_for_the_run(page)
    expect(edit_tab).to_have_attribute("aria-selected", "true")
    expect(editing.get_by_text("Delete the connection e2e-handbook?")).to_be_visible()
    editing.get_by_role("button", name="Yes, delete e2e-handbook").click()
    expect(main.get_by_text("Deleted the connection e2e-handbook.")).to_be_visible()
    expect(listed.get_by_text("sandbox-failing", exact=True)).to_be_attached()
    expect(listed.get_by_text("e2e-handbook", exact=True)).to_have_count(0)
