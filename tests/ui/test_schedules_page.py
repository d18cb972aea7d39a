"""The Schedules page: an operator adds one (the next five firings shown as the expression is
typed, or the refusal), pauses, resumes, runs it now and deletes it; a viewer only reads."""

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from kbsync_core.roles import RoleLists, parse_role_list
from kbsync_core.runtime import Kbsync, install_kbsync
from kbsync_ui.schedules_view import form_key
from tests.ui.conftest import APP
from tests.ui.helpers import texts

PAGE = "app_pages/schedules.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-0123456789abcdef",
    "client_id": "kbsync-test",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
}


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def typed(at: AppTest, **fields) -> AppTest:
    for field, value in fields.items():
        at.text_input(key=form_key("add", field)).input(value)
    return at.run()


def listed(at: AppTest) -> list[dict]:
    return at.dataframe[0].value.to_dict("records") if at.dataframe else []


def test_an_operator_adds_pauses_resumes_runs_and_deletes_a_schedule(kbsync):
    at = open_page()
    assert at.title[0].value == "Schedules"
    assert "No schedules yet." in texts(at)

    typed(at, expression="30 SECONDS")
    assert any("at most once a minute" in error.value for error in at.error)
    typed(at, name="nightly", expression="30 2 * * *", timezone="Europe/Madrid")
    preview = next(md.value for md in at.markdown if md.value.startswith("Next firings:"))
    assert preview.count("\n- ") == 5 and " 02:30:00 CE" in preview
    assert any(day in preview for day in ("Monday", "Sunday", "Tuesday", "Friday"))
    at.button(key=form_key("add", "save")).click().run()
    assert not at.exception, at.exception
    [row] = listed(at)
    assert (row["Name"], row["Connection"], row["Expression"], row["Time zone"], row["Enabled"]) \
        == ("nightly", "sandbox", "30 2 * * *", "Europe/Madrid", "yes")
    assert " 02:30:00 CE" in row["Next firing"] and row["Last firing"] == "—"

    at.button(key="schedules_toggle").click().run()
    assert listed(at)[0]["Enabled"] == "paused" and listed(at)[0]["Next firing"] == "—"
    at.button(key="schedules_toggle").click().run()
    assert listed(at)[0]["Enabled"] == "yes"

    at.button(key="schedules_run_now").click().run()
    assert any(s.value.startswith("Started execution ") for s in at.success), texts(at)
    schedule = kbsync.schedules.list()[0]
    assert schedule.last_firing.outcome == "started"
    kbsync.engine.wait(schedule.last_firing.execution_id, 10)
    at.run()
    assert listed(at)[0]["Last outcome"] == "started"

    at.button(key="schedules_delete").click().run()
    at.button(key="schedules_delete_yes").click().run()
    assert "No schedules yet." in texts(at)
    assert kbsync.schedules.list() == []


@pytest.fixture
def viewer_kbsync(fast_settings):
    kbsync = Kbsync.open(replace(fast_settings, roles=RoleLists(
        viewers=parse_role_list("@example.com")
    )))
    install_kbsync(kbsync)
    yield kbsync
    install_kbsync(None)
    kbsync.close()


def test_a_viewer_reads_the_list_and_changes_nothing(viewer_kbsync):
    viewer_kbsync.schedules.create({"connectionId": "sandbox", "expression": "DAILY"})
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "viewer@example.com"}
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert [row["Expression"] for row in listed(at)] == ["DAILY"]
    assert not [b.key for b in at.button if (b.key or "").startswith(("schedule", "schedules"))]
    assert not [t.key for t in at.text_input if (t.key or "").startswith("schedule_form")]
