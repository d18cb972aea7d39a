"""The History page: one row per sync, live, filters, selection by sync, charts, CSV, errors."""

import csv
import functools
import io
import json
from datetime import timedelta
from unittest import mock

import boto3
import pandas as pd
import pytest
import streamlit
import streamlit.testing.v1.local_script_runner as local_script_runner
from streamlit.runtime.scriptrunner import RerunData
from streamlit.testing.v1 import AppTest

from kbsync_core.models import AwsCredentials, Execution, ExecutionStatus, SyncTarget
from kbsync_core.timefmt import iso_utc, parse_iso
from kbsync_core.validation import HistoryRequest, SyncRequest
from kbsync_sandbox import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
    SANDBOX_REGION,
)
from kbsync_ui.history_view import TABLE_KEY
from tests.ui.conftest import ACCESS_KEY_ID, APP, SECRET, sign_in
from tests.ui.helpers import texts, wait_for_execution

TARGET = SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID)
FAILING = "SANDBOXDS2"  # the sandbox's data source whose syncs fail
HISTORY = "app_pages/history.py"
CREDENTIALS = AwsCredentials.from_keys(ACCESS_KEY_ID, SECRET)


def sandbox_client():
    return boto3.client("bedrock-agent", region_name=SANDBOX_REGION)


def run_outside_kbsync(kbsync, times: int = 1, data_source: str = SANDBOX_DATA_SOURCE_ID):
    """Syncs started by someone else (the AWS console, say): kbsync only sees them in AWS."""
    job_ids = []
    for _ in range(times):
        job_ids.append(
            sandbox_client().start_ingestion_job(
                knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=data_source
            )["ingestionJob"]["ingestionJobId"]
        )
        kbsync.sandbox.finish_running_jobs()
    return job_ids


def sync_request(description: str = "from a test") -> SyncRequest:
    return SyncRequest(TARGET, CREDENTIALS, description)


def stored_sync(kbsync, number: int, seconds: float) -> Execution:
    """A finished sync of `seconds` kept in the store (its job long gone from AWS's list)."""
    started = parse_iso("2026-11-22T23:00:00.000Z") + timedelta(minutes=number)
    execution = Execution(
        id=f"stored-{number}", target=TARGET, description=f"stored #{number}",
        status=ExecutionStatus.COMPLETADO, started_at=iso_utc(started),
        finished_at=iso_utc(started + timedelta(seconds=seconds)), job_id=f"OLDJOB{number:04d}",
        statistics={"numberOfDocumentsScanned": 20},
    )
    kbsync.store.add(execution)
    return execution


@pytest.fixture
def history(console):
    sign_in(console)
    console.switch_page(HISTORY).run()
    assert not console.exception, console.exception
    return console


def table(at) -> pd.DataFrame:
    return at.dataframe[0].value


def column_config(at) -> dict:
    return json.loads(at.dataframe[0].proto.columns)


def charts(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def select(at, position: int) -> None:
    at.session_state[TABLE_KEY] = {"selection": {"rows": [position], "columns": []}}
    at.run()
    assert not at.exception, at.exception


def details_title(at) -> str:
    """The selected sync's heading: `<status> · <job>`."""
    return next(header.value for header in at.main.subheader if " · " in header.value)


def rerun_fragment(at) -> None:
    """What the browser's timer asks for: a rerun of the page's fragment only."""
    fragment_ids = list(at._fragment_storage._fragments)  # AppTest keeps no public list
    assert len(fragment_ids) == 1, fragment_ids
    fragment_rerun = functools.partial(
        RerunData, fragment_id_queue=fragment_ids, is_auto_rerun=True
    )
    with mock.patch.object(local_script_runner, "RerunData", fragment_rerun):
        at.run()
    assert not at.exception, at.exception


# -- empty states ----------------------------------------------------------------------------


def test_without_a_connection_the_page_says_what_to_do(console):
    console.switch_page(HISTORY).run()
    assert "Choose a connection or fill in the data source and keys in the sidebar" in texts(
        console
    )
    assert not console.dataframe


def test_a_data_source_never_synced_points_to_the_sync_page(history):
    assert "No sync of this data source yet. Start one on the Sync page." in texts(history)
    link = history.get("page_link")[0].proto
    assert link.label == "Go to the Sync page" and link.page_script_hash
    assert not history.dataframe


# -- rows, columns, order --------------------------------------------------------------------


def test_local_and_aws_syncs_show_once_each_newest_first(kbsync, history):
    outside = run_outside_kbsync(kbsync, times=2)
    history.button(key="history_refresh").click().run()
    rows = table(history)
    assert list(rows["AWS job"]) == list(reversed(outside))
    assert list(rows["Trigger"]) == ["AWS", "AWS"]
    assert list(rows["Status"]) == ["✅ Completed", "✅ Completed"]
    assert list(rows["Scanned"]) == [20, 20]
    assert list(rows["Added"]) == [0, 20]  # the second sync found nothing new
    assert list(rows["Modified"]) == [0, 0]
    assert {"Deleted", "Failed", "Metadata", "Duration"} <= set(rows.columns)


def test_duration_sorts_as_a_number(kbsync, history):
    for number, seconds in enumerate([20, 2, 10]):
        stored_sync(kbsync, number, seconds)
    history.run()
    durations = table(history)["Duration"]
    assert pd.api.types.is_numeric_dtype(durations)
    assert sorted(durations) == [2, 10, 20]  # as text it would be 10, 2, 20
    assert column_config(history)["Duration"]["type_config"]["format"] == "%.1f s"


def test_times_have_seconds_and_zone_and_sort_as_times(kbsync, history):
    stored_sync(kbsync, 1, 6.25)
    history.run()
    started = table(history)["Started"][0]
    assert started == pd.Timestamp("2026-11-22T23:01:00Z")
    config = column_config(history)["Started"]["type_config"]
    assert config["format"] == "YYYY-MM-DD HH:mm:ss z"
    assert config["timezone"] == "UTC"  # AppTest sends no browser zone


def test_a_selected_sync_stays_selected_when_a_refresh_moves_its_row(kbsync, history):
    first, second = run_outside_kbsync(kbsync, times=2)
    history.button(key="history_refresh").click().run()
    select(history, 1)  # the older sync
    assert first in details_title(history)

    newest = run_outside_kbsync(kbsync)[0]
    history.button(key="history_refresh").click().run()
    assert list(table(history)["AWS job"]) == [newest, second, first]
    assert list(history.session_state[TABLE_KEY]["selection"]["rows"]) == [2]
    assert first in details_title(history)

    history.switch_page("app_pages/sync.py").run()
    history.switch_page(HISTORY).run()  # back: still that sync
    assert first in details_title(history)
    select(history, 0)
    assert newest in details_title(history)  # a click still chooses another


def test_a_running_sync_refreshes_by_itself_until_it_ends(kbsync, history):
    kbsync.sandbox.speed = 0.5  # the job waits for finish_running_jobs
    execution = kbsync.engine.start_sync(sync_request())
    wait_for_execution(kbsync, execution.id, lambda execution: execution.job_id)
    history.run()
    assert list(table(history)["Status"]) == ["🔄 Running"]
    assert table(history)["Finished"].isna().all()
    assert history.dataframe[0].proto.placeholder == "—"

    kbsync.sandbox.finish_running_jobs()
    kbsync.sandbox.speed = 200
    assert kbsync.engine.wait(execution.id, 30).status is ExecutionStatus.COMPLETADO
    rerun_fragment(history)  # the timer, not a click
    assert list(table(history)["Status"]) == ["✅ Completed"]
    assert not table(history)["Finished"].isna().any()


def test_a_refused_attempt_is_not_a_sync(kbsync, history):
    kbsync.sandbox.speed = 0.5
    running = kbsync.engine.start_sync(sync_request("first click"))
    wait_for_execution(kbsync, running.id, lambda execution: execution.job_id)
    refused = kbsync.engine.start_sync(sync_request("second click"))  # ConflictException
    refused = kbsync.engine.wait(refused.id, 10)
    assert refused.status is ExecutionStatus.FALLIDO and refused.job_id is None
    try:
        history.run()
        assert list(table(history)["Description"]) == ["first click"]
        assert "1 shown of the 1 newest syncs" in texts(history)
        # The JSON API keeps seed 001's rows: the refused attempt is there.
        api_rows = kbsync.history.read(HistoryRequest(TARGET, CREDENTIALS, 30))
        assert refused.id in [row["id"] for row in api_rows]
    finally:
        kbsync.sandbox.finish_running_jobs()
        kbsync.engine.wait(running.id, 30)


def test_filters_by_status_in_words_and_the_details_show_failure_reasons(kbsync, history):
    history.text_input(key="connection_data_source_id").input(FAILING).run()
    job = run_outside_kbsync(kbsync, data_source=FAILING)[0]
    history.button(key="history_refresh").click().run()
    assert list(table(history)["AWS job"]) == [job]
    status_filter = history.multiselect(key="history_statuses")
    assert status_filter.options == ["Pending", "Running", "Completed", "Failed", "Stopped"]

    status_filter.select("COMPLETADO").run()
    assert not history.dataframe
    assert "No sync matches these filters" in texts(history)
    history.multiselect(key="history_statuses").unselect("COMPLETADO").select("FALLIDO").run()
    assert list(table(history)["Status"]) == ["❌ Failed"]

    select(history, 0)
    expected = sandbox_client().get_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=FAILING, ingestionJobId=job
    )["ingestionJob"]["failureReasons"]
    assert expected and [error.value for error in history.error] == expected


def test_max_results_limits_the_rows_and_the_caption_says_more_may_exist(kbsync, history):
    run_outside_kbsync(kbsync, times=4)
    history.button(key="history_refresh").click().run()
    history.number_input(key="history_max_results").set_value(3).run()
    assert len(table(history)) == 3
    shown = texts(history)
    assert "3 shown of the 3 newest syncs of `SANDBOXDS1`" in shown
    assert "Older syncs may exist beyond Max results." in shown
    history.number_input(key="history_max_results").set_value(30).run()
    assert "4 shown of the 4 newest syncs" in texts(history)
    assert "beyond Max results" not in texts(history)


# -- details ---------------------------------------------------------------------------------


def test_details_of_a_kbsync_sync_show_times_duration_description_and_log(kbsync, history):
    execution = kbsync.engine.wait(kbsync.engine.start_sync(sync_request("nightly")).id, 30)
    history.run()
    select(history, 0)
    shown = texts(history)
    for fact in ("**Started** ", "**Finished** ", "**Duration** ", "**Trigger** ",
                 "**Description** nightly"):
        assert fact in shown, shown
    assert "UTC" in shown  # times with their zone
    assert execution.job_id in shown  # the log (kbsync_ui.widgets.render_log)


def test_details_of_an_aws_job_show_awss_times_not_a_pseudo_log(kbsync, history):
    job = run_outside_kbsync(kbsync)[0]
    history.button(key="history_refresh").click().run()
    select(history, 0)
    summary = sandbox_client().get_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=TARGET.data_source_id,
        ingestionJobId=job,
    )["ingestionJob"]
    shown = texts(history)
    updated = summary["updatedAt"].astimezone(parse_iso("2026-01-01T00:00:00Z").tzinfo)
    assert f"**Last updated in AWS** {updated:%Y-%m-%d %H:%M:%S} UTC" in shown
    assert "**Started in AWS** " in shown
    assert "**Trigger** AWS" in shown
    assert "Historial recuperado" not in shown  # the API's pseudo-log of when it was read


# -- charts and CSV --------------------------------------------------------------------------


def test_charts_show_outcome_duration_and_documents_on_a_24_hour_clock(kbsync, history):
    history.text_input(key="connection_data_source_id").input(FAILING).run()
    run_outside_kbsync(kbsync, times=2, data_source=FAILING)
    history.button(key="history_refresh").click().run()
    history.multiselect(key="history_statuses").select("FALLIDO").run()
    assert "Recent syncs" in texts(history)
    outcome, duration, documents = charts(history)
    assert [outcome["title"], duration["title"], documents["title"]] == [
        "Outcome", "Duration (s)", "Documents",
    ]
    for spec in (outcome, duration, documents):
        axis = spec["encoding"]["x"]["axis"]
        assert "%H" in axis["format"] and "%I" not in axis["format"]
        assert "%d" in axis["format"]  # the date beside the time
        assert spec["encoding"]["x"]["title"] == "Started (UTC)"
    assert documents["encoding"]["y"]["axis"] == {"tickMinStep": 1, "format": "d"}
    assert duration["encoding"]["y"]["axis"]["format"] == ",.1~f"  # never "0.000000"
    assert set(outcome["encoding"]["color"]["scale"]["domain"]) >= {"Failed", "Completed"}


def test_csv_has_codes_words_rounded_durations_and_failure_reasons(kbsync, history):
    downloads = []
    download_button = streamlit.download_button

    def keep_data(label, data, *args, **kwargs):
        downloads.append(data)
        return download_button(label, data, *args, **kwargs)

    history.text_input(key="connection_data_source_id").input(FAILING).run()
    job = run_outside_kbsync(kbsync, data_source=FAILING)[0]
    with mock.patch.object(streamlit, "download_button", keep_data):
        history.button(key="history_refresh").click().run()
    assert history.get("download_button")[0].proto.label == "Download CSV"
    (row,) = csv.DictReader(io.StringIO(downloads[-1]()))
    assert row["Status code"] == "FALLIDO" and row["Status"] == "Failed"
    assert row["AWS job"] == job
    assert row["Failure reasons"]
    duration = row["Duration (s)"]
    assert len(duration.partition(".")[2]) <= 1, duration


def test_spanish_statuses_columns_filters_and_charts(kbsync, history):
    run_outside_kbsync(kbsync, times=2)
    history.session_state["console_language"] = "es"
    history.button(key="history_refresh").click().run()
    rows = table(history)
    assert list(rows["Estado"]) == ["✅ Completado", "✅ Completado"]
    assert list(rows["Origen"]) == ["AWS", "AWS"]
    assert "Fallido" in history.multiselect(key="history_statuses").options
    assert "2 mostradas de las 2 sincronizaciones más recientes" in texts(history)
    outcome = charts(history)[0]
    assert outcome["config"]["locale"]["time"]["shortMonths"][0] == "ene"
    assert outcome["title"] == "Resultado"


# -- AWS errors ------------------------------------------------------------------------------


def test_an_aws_error_is_a_readable_message_not_a_traceback(history):
    history.text_input(key="connection_knowledge_base_id").input("NOSUCHKB00").run()
    assert not history.exception
    assert any(
        "Could not read the history from AWS. ResourceNotFoundException" in e.value
        for e in history.error
    )


def test_with_denied_keys_the_page_shows_awss_error_and_kbsyncs_own_rows(kbsync, history):
    execution = kbsync.engine.wait(kbsync.engine.start_sync(sync_request("kept")).id, 30)
    denied = f"{DENIED_ACCESS_KEY_PREFIX}EXAMPLE12"[:20]
    history.text_input(key="connection_access_key_id").input(denied).run()
    assert not history.exception, history.exception
    assert any("AccessDeniedException" in error.value for error in history.error)
    assert list(table(history)["AWS job"]) == [execution.job_id]
    assert "Only kbsync's own syncs of this data source" in texts(history)


def test_a_sync_from_another_session_shows_in_this_sessions_history(kbsync, history):
    other = AppTest.from_file(APP, default_timeout=30)
    other.run()
    sign_in(other)
    other.button[0].click().run()  # another browser session starts a sync
    started = kbsync.engine.wait(other.session_state["current_execution_id"], 30)

    history.button(key="history_refresh").click().run()
    assert list(table(history)["AWS job"]) == [started.job_id]
