"""The Table jobs page: an operator picks the sandbox's orders_db.orders and its columns, sees
each problem under its field, creates a job, runs it now and reads the run's rows, adds sample
rows, pauses, resumes and deletes it; a viewer reads the jobs and their runs, changes nothing."""

from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from kbsync_core.roles import RoleLists, parse_role_list
from kbsync_core.runtime import Kbsync, install_kbsync
from kbsync_ui.table_jobs_view import form_key
from tests.ui.conftest import APP
from tests.ui.helpers import texts

PAGE = "app_pages/table_jobs.py"
WAIT = 30
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-0123456789abcdef",
    "client_id": "kbsync-test",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
}


def open_page(at: AppTest | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def tables(at: AppTest) -> list[list[dict]]:
    return [frame.value.to_dict("records") for frame in at.dataframe]


def test_an_operator_creates_runs_pauses_and_deletes_a_table_job(kbsync):
    at = open_page()
    assert at.title[0].value == "Table jobs"
    assert "No table jobs yet." in texts(at)
    assert at.selectbox(key=form_key("source")).value == "orders_db"
    assert at.selectbox(key=form_key("source_table")).value == "orders_db.orders"
    assert at.selectbox(key=form_key("filter_column_orders_db.orders")).value == "created_at"
    content = at.multiselect(key=form_key("content_columns_orders_db.orders"))
    assert {"product", "description", "order_id"} <= set(content.options)

    # Nothing chosen and an interval under a minute: each problem under its field.
    at.text_input(key=form_key("job_name")).input("orders")
    at.selectbox(key=form_key("kb_name")).select("sandbox-custom")
    at.text_input(key=form_key("interval")).input("30 SECONDS").run()
    at.button(key=form_key("create")).click().run()
    errors = [error.value for error in at.error]
    assert any(e.startswith("The job was not created: Invalid job configuration") for e in errors)
    assert "content_columns is required" in errors
    assert any(e.startswith("interval:") for e in errors), errors
    assert kbsync.table_jobs.list() == []

    at.multiselect(key=form_key("content_columns_orders_db.orders")).select("product").select(
        "description"
    )
    at.text_input(key=form_key("interval")).input("10 MINUTES").run()
    at.button(key=form_key("create")).click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Created the job orders") for s in at.success), texts(at)
    [row] = tables(at)[0]
    assert (row["Name"], row["Source table"], row["Connection"], row["Status"]) == (
        "orders", "orders_db.orders", "sandbox-custom", "scheduled"
    )  # fmt: skip
    assert row["Next run"] != "—" and row["Last run"] == "—"
    [job] = kbsync.table_jobs.list()

    at.button(key="table_jobs_run_now").click().run()
    assert any(s.value == "Started a run of orders." for s in at.success), texts(at)
    run_id = kbsync.table_jobs.body(job["job_id"])["runs"][0]["run_id"]
    assert kbsync.table_jobs.wait(run_id, WAIT).status == "completed"
    at.run()
    listed, runs = tables(at)
    assert listed[0]["Last outcome"] == "completed" and listed[0]["Rows sent"] == 36
    assert (runs[0]["Status"], runs[0]["Read"], runs[0]["Sent"], runs[0]["Failed"]) == (
        "completed", 36, 36, 0
    )  # fmt: skip
    assert runs[0]["Trigger"] == "run now"

    at.button(key="table_jobs_add_rows").click().run()
    assert any(s.value.startswith("Added orders ") for s in at.success), texts(at)

    at.button(key="table_jobs_toggle").click().run()
    assert tables(at)[0][0]["Status"] == "paused" and tables(at)[0][0]["Next run"] == "—"
    at.button(key="table_jobs_toggle").click().run()
    assert tables(at)[0][0]["Status"] == "scheduled"

    at.button(key="table_jobs_delete").click().run()
    at.button(key="table_jobs_delete_yes").click().run()
    assert "No table jobs yet." in texts(at)
    assert kbsync.table_jobs.list() == []

    # The same page in Spanish.
    at.session_state["console_language"] = "es"
    at.run()
    assert at.title[0].value == "Trabajos de tabla"


@pytest.fixture
def viewer_kbsync(fast_settings):
    roles = RoleLists(viewers=parse_role_list("@example.com"))
    kbsync = Kbsync.open(replace(fast_settings, roles=roles))
    install_kbsync(kbsync)
    yield kbsync
    install_kbsync(None)
    kbsync.close()


def test_a_viewer_reads_the_jobs_and_changes_nothing(viewer_kbsync):
    viewer_kbsync.table_jobs.create(
        {
            "job_name": "orders",
            "source_table": "orders_db.orders",
            "kb_name": "sandbox-custom",
            "content_columns": ["product"],
            "filter_column": "created_at",
            "interval": "HOURLY",
            "start_time": "2999-01-01T00:00:00",
            "end_time": "2999-01-02T00:00:00",
        }
    )
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "viewer@example.com"}
    open_page(at)
    assert [row["Name"] for row in tables(at)[0]] == ["orders"]
    assert "No runs yet." in texts(at)
    assert not [b.key for b in at.button if (b.key or "").startswith("table_jobs")]
    assert not [t.key for t in at.text_input if (t.key or "").startswith("table_jobs")]
