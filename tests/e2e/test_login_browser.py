"""Logging in to the console in a real browser, against a local OpenID Connect provider
(oidc-provider-mock) this test starts: an operator gets the Sync page with `Start sync`
enabled, a viewer gets it disabled. Roles go by the ID token's `email`, not its subject."""

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

USERS = {"operator-1": "ops@example.com", "viewer-1": "eve@example.com"}

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
