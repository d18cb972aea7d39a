"""Login and roles in the console: AppTest's `secrets` gives it an [auth] section and its
`user` plays the logged-in visitor (st.user)."""

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from kbsync_core.roles import RoleLists, parse_role_list
from kbsync_core.runtime import Kbsync, install_kbsync
from kbsync_ui.auth import TEXTS as AUTH_TEXTS
from kbsync_ui.shell import SANDBOX_BANNER
from tests.ui.conftest import APP, sign_in
from tests.ui.helpers import rerun_until, texts

OPEN_BANNER = AUTH_TEXTS.both("open")[0]
OPERATOR_NEEDED = AUTH_TEXTS.both("operator_needed")[0]
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-0123456789abcdef",
    "client_id": "kbsync-test",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
}
ROLES = RoleLists(
    viewers=parse_role_list("@example.com"),
    operators=parse_role_list("Ops@Example.com"),
    admins=parse_role_list("root@example.com"),
)


@pytest.fixture
def kbsync(fast_settings):
    kbsync = Kbsync.open(replace(fast_settings, roles=ROLES))
    install_kbsync(kbsync)
    yield kbsync
    install_kbsync(None)
    kbsync.close()


def console_for(user: dict | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False} if user is None else {"is_logged_in": True, **user}
    at.run()
    assert not at.exception, at.exception
    return at


def labels(at: AppTest) -> list[str]:
    return [button.label for button in at.button]


def start_button(at: AppTest):
    return next(button for button in at.button if button.label == "Start sync")


def test_without_auth_the_console_is_open_and_says_so(kbsync):
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert OPEN_BANNER in texts(at)
    assert SANDBOX_BANNER in texts(at)
    assert "Log in" not in labels(at)
    sign_in(at)
    assert not start_button(at).disabled
    assert OPERATOR_NEEDED not in texts(at)


def test_a_visitor_not_logged_in_sees_only_a_login_button(kbsync):
    at = console_for(None)
    assert labels(at) == ["Log in"]
    page = texts(at)
    assert SANDBOX_BANNER not in page and OPEN_BANNER not in page
    assert not at.sidebar.text_input  # no connection form, nothing read from the store
    # The console's pages are not even registered: no URL reaches them.
    with pytest.raises(ValueError, match="Known pages: \\['kbsync'\\]"):
        at.switch_page("app_pages/history.py")


def test_an_address_on_no_list_is_told_so_with_a_logout_button(kbsync):
    at = console_for({"email": "stranger@elsewhere.org"})
    assert labels(at) == ["Log out"]
    assert "stranger@elsewhere.org, but that address has no role in kbsync" in texts(at)
    assert not at.sidebar.text_input
    at.button(key="auth_logout").click().run()  # the browser is sent to /auth/logout
    assert at.user == {"is_logged_in": False}
    assert labels(at.run()) == ["Log in"]


def test_roles_go_by_the_email_claim_not_the_subject(kbsync):
    at = console_for({"sub": "ops@example.com", "email": "stranger@elsewhere.org"})
    assert labels(at) == ["Log out"]
    at = console_for({"sub": "ops@example.com"})  # no email claim at all
    assert "did not give kbsync a verified e-mail address" in texts(at)
    at = console_for({"email": "ops@example.com", "email_verified": False})
    assert "did not give kbsync a verified e-mail address" in texts(at)


def test_a_viewer_reads_but_cannot_start(kbsync):
    at = console_for({"email": "eve@EXAMPLE.com"})
    assert "Logged in as **eve@EXAMPLE.com** (viewer)" in "\n".join(
        caption.value for caption in at.sidebar.caption
    )
    sign_in(at)
    start = start_button(at)
    assert start.disabled
    assert OPERATOR_NEEDED in texts(at)
    at.switch_page("app_pages/history.py").run()
    assert not at.exception
    assert "No sync of this data source yet." in texts(at)  # the page read it


def test_an_operator_starts_a_sync_on_the_sandbox(kbsync):
    at = console_for({"email": "ops@example.com"})
    sign_in(at)
    start = start_button(at)
    assert not start.disabled
    assert OPERATOR_NEEDED not in texts(at)
    start.click().run()
    assert not at.exception, at.exception
    rerun_until(at, lambda at: "Completed" in texts(at))
    [execution] = kbsync.store.get_many(at.session_state["my_execution_ids"])
    assert execution.status.is_final


def test_an_admin_can_operate_too(kbsync):
    at = console_for({"email": "root@example.com"})
    sign_in(at)
    assert not start_button(at).disabled


def test_only_an_admins_navigation_has_the_connections_page(kbsync):
    for email in ("viewer@example.com", "ops@example.com"):
        at = console_for({"email": email})
        with pytest.raises(ValueError, match="Known pages"):
            at.switch_page("app_pages/connections.py")
        keys = [button.key or "" for button in at.button]
        assert not [key for key in keys if key.startswith(("connection_form", "connections_"))]
    at = console_for({"email": "root@example.com"})
    at.switch_page("app_pages/connections.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Connections"
    keys = {button.key for button in at.button}
    assert {"connection_form_add_save", "connection_form_edit-sandbox_save"} <= keys
    assert "connections_delete" in keys
