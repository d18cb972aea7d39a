"""The History page: one row per sync, filters, selection, errors, and the shared view."""

import boto3
import pytest
from streamlit.testing.v1 import AppTest

from kbsync_core.models import SyncTarget
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from kbsync_ui.history_view import TABLE_KEY
from tests.ui.conftest import APP, sign_in
from tests.ui.helpers import texts

TARGET = SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID)
HISTORY = "app_pages/history.py"


def sandbox_client():
    return boto3.client("bedrock-agent", region_name=SANDBOX_REGION)


def run_outside_kbsync(kbsync, times: int = 1) -> list[str]:
    """Syncs started by someone else (the AWS console, say): kbsync only sees them in AWS."""
    job_ids = []
    for _ in range(times):
        job_ids.append(
            sandbox_client().start_ingestion_job(
                knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=TARGET.data_source_id
            )["ingestionJob"]["ingestionJobId"]
        )
        kbsync.sandbox.finish_running_jobs()
    return job_ids


@pytest.fixture
def history(console):
    sign_in(console)
    console.switch_page(HISTORY).run()
    assert not console.exception, console.exception
    return console


def table(at):
    return at.dataframe[0].value


def test_without_a_connection_the_page_says_what_to_do(console):
    console.switch_page(HISTORY).run()
    assert "Fill in the connection in the sidebar" in texts(console)
    assert not console.dataframe


def test_local_and_aws_syncs_show_once_each_newest_first(kbsync, history):
    outside = run_outside_kbsync(kbsync, times=2)
    history.button[0].click().run()  # Refresh from AWS
    assert list(table(history)["AWS job"]) == list(reversed(outside))
    assert set(table(history)["Source"]) == {"AWS"}
    assert list(table(history)["Status"]) == ["✅ Completed", "✅ Completed"]
    assert list(table(history)["Scanned"]) == [20, 20]
    assert list(table(history)["Indexed"]) == [0, 20]  # the second sync found nothing new
    assert "2 of 2 syncs of `SANDBOXDS1`" in texts(history)


def test_filters_by_status_and_selection_shows_logs_and_failure_reasons(kbsync, history):
    history.text_input(key="connection_data_source_id").input("SANDBOXDS2").run()
    failing = sandbox_client()
    job = failing.start_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId="SANDBOXDS2"
    )["ingestionJob"]["ingestionJobId"]
    kbsync.sandbox.finish_running_jobs()
    history.button[0].click().run()
    assert list(table(history)["AWS job"]) == [job]

    history.multiselect[0].select("COMPLETADO").run()
    assert table(history).empty
    history.multiselect[0].unselect("COMPLETADO").select("FALLIDO").run()
    assert list(table(history)["Status"]) == ["❌ Failed"]

    history.session_state[TABLE_KEY] = {"selection": {"rows": [0], "columns": []}}
    history.run()
    assert "Estado AWS" not in texts(history)  # a job kbsync never ran has no log of its own
    expected = failing.get_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId="SANDBOXDS2", ingestionJobId=job
    )["ingestionJob"]["failureReasons"]
    assert expected and [error.value for error in history.error] == expected


def test_max_results_limits_the_rows(kbsync, history):
    run_outside_kbsync(kbsync, times=3)
    history.button[0].click().run()  # Refresh from AWS
    assert len(table(history)) == 3
    history.number_input[0].set_value(2).run()
    assert len(table(history)) == 2


def test_an_aws_error_is_a_readable_message_not_a_traceback(history):
    history.text_input(key="connection_knowledge_base_id").input("NOSUCHKB00").run()
    assert not history.exception
    assert any(
        "Could not read the history from AWS. ResourceNotFoundException" in e.value
        for e in history.error
    )


def test_a_sync_from_another_session_shows_in_this_sessions_history(kbsync, history):
    other = AppTest.from_file(APP, default_timeout=30)
    other.run()
    sign_in(other)
    other.button[0].click().run()  # another browser session starts a sync
    started = kbsync.engine.wait(other.session_state["current_execution_id"], 30)

    history.button[0].click().run()
    rows = table(history)
    assert list(rows["AWS job"]) == [started.job_id]
    assert list(rows["Source"]) == ["LOCAL"]


def test_csv_download_and_trend_chart(kbsync, history):
    run_outside_kbsync(kbsync, times=3)
    history.button[0].click().run()
    assert "Recent syncs" in texts(history)
    download = history.get("download_button")[0]
    assert download.proto.label == "Download CSV"
