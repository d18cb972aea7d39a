"""The Ingest page: an operator pastes records, sees the adapter's preview (its problems with
their paths, nothing sent), sends on the sandbox's CUSTOM data source, watches the job end with
its counts, filters the records to the one Bedrock failed; a viewer only reads the jobs."""

import json
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from kbsync_core.roles import RoleLists, parse_role_list
from kbsync_core.runtime import Kbsync, install_kbsync
from kbsync_sandbox import documents as sandbox_documents
from tests.ui.conftest import APP
from tests.ui.helpers import rerun_until, texts
from tests.ui.test_schedules_page import AUTH

PAGE = "app_pages/ingest.py"


@pytest.fixture
def kbsync(fast_settings):
    # The document API's quota at the sandbox's speed, not Bedrock's 5 a second.
    kbsync = Kbsync.open(replace(fast_settings, ingest_rate=400))
    install_kbsync(kbsync)
    yield kbsync
    install_kbsync(None)
    kbsync.close()


def open_page(at: AppTest | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30) if at is None else at
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def paste(at: AppTest, records: list[dict]) -> AppTest:
    at.text_area(key="ingest_paste").input(json.dumps({"records": records})).run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest, column: str) -> list[dict]:
    """The rows of the table that has `column` (the preview's "Characters", the problems'
    "Where", the past jobs' "Into", a job's records' "Entry id")."""
    [frame] = [frame.value for frame in at.dataframe if column in frame.value.columns]
    return frame.to_dict("records")


def test_an_operator_previews_sends_watches_and_filters_failures(kbsync, monkeypatch):
    at = open_page()
    assert at.title[0].value == "Ingest"
    assert "No ingestion jobs yet." in texts(at)
    at.selectbox(key="ingest_connection").set_value("sandbox-custom").run()

    paste(at, [{"id": "a", "content": "Alpha"}, {"id": "b", "title": 3}])
    assert any("problems: nothing is sent" in error.value for error in at.error)
    problems = table(at, "Where")
    assert {row["Where"] for row in problems} >= {
        "data.records[1].content",
        "data.records[1].title",
    }
    assert at.button(key="ingest_send").disabled
    assert kbsync.ingestion.jobs.list_jobs()[0] == 0  # a preview makes no job

    records = [
        {"id": "doc-1", "title": "One", "content": "First record."},
        {"id": "doc-2", "title": "Two", "content": "x" * 200, "metadata": {"team": "ops"}},
        {"id": "doc-3", "content": "# Three\n\nThird record."},
    ]
    paste(at, records)
    assert "**3** records" in texts(at)
    assert not at.error
    preview = table(at, "Characters")
    assert [row["Record"] for row in preview] == ["doc-1", "doc-2", "doc-3"]
    assert preview[2]["Title"] == "Three" and preview[1]["Attributes"] >= 1

    # Bedrock refuses doc-2 (over its size quota, made tiny here): it fails alone.
    monkeypatch.setattr(sandbox_documents, "MAX_DOCUMENT_BYTES", 100)
    at.button(key="ingest_send").click().run()
    assert not at.exception, at.exception
    assert any("Job " in notice.value and "3 records" in notice.value for notice in at.success)

    def finished(page: AppTest) -> bool:
        bars = page.get("progress")
        return bool(bars) and bars[0].proto.text.startswith("completed ·")

    rerun_until(at, finished)
    bar = at.get("progress")[0].proto
    assert bar.value == 100
    assert "3 of 3 processed · 2 successful · 1 failed · 0 skipped" in bar.text
    past = table(at, "Into")
    assert past[0]["Into"] == "sandbox-custom" and past[0]["Status"] == "completed"
    results = table(at, "Entry id")
    assert [(r["Record"], r["Status"]) for r in results] == [
        ("doc-1", "success"), ("doc-2", "failed"), ("doc-3", "success"),
    ]  # fmt: skip

    at.toggle(key="ingest_failures_only").set_value(True).run()
    [failure] = table(at, "Entry id")
    assert (failure["Record"], failure["Status"]) == ("doc-2", "failed") and failure["Error"]
    assert not [b for b in at.button if b.key and b.key.startswith("ingest_cancel_")]


def test_a_viewer_reads_the_jobs_and_sends_nothing(fast_settings):
    kbsync = Kbsync.open(
        replace(fast_settings, roles=RoleLists(viewers=parse_role_list("@example.com")))
    )
    install_kbsync(kbsync)
    try:
        target = kbsync.ingestion.resolve("sandbox-custom")
        job = kbsync.ingestion.create(
            "sandbox-custom", "generic-json", {"records": [{"id": "v", "content": "Viewed."}]}
        )
        kbsync.ingestion.wait(job.id, 30)
        assert target.target.data_source_type == "CUSTOM"
        at = AppTest.from_file(APP, default_timeout=30)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": "viewer@example.com"}
        open_page(at)
        assert not [w for w in at.text_area if w.key == "ingest_paste"]
        assert not [b for b in at.button if b.key == "ingest_send"]
        assert table(at, "Into")[0]["Status"] == "completed"
        assert f"Job {job.id}" in texts(at)
    finally:
        install_kbsync(None)
        kbsync.close()
