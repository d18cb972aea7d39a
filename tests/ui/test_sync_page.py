"""The Sync page: start, watch to the end, stop, and the conflict path."""

import re

import boto3

from kbsync_core.models import ExecutionStatus
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from kbsync_ui.session import CURRENT_EXECUTION_KEY
from tests.ui.conftest import sign_in
from tests.ui.helpers import rerun_until, texts, wait_for_execution


def start(at):
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at.session_state[CURRENT_EXECUTION_KEY]


def badge(at) -> str:
    return next(m.value for m in at.markdown if "-badge[" in m.value)


def test_start_shows_the_execution_and_it_runs_to_completado(console, kbsync):
    sign_in(console)
    console.text_input(key="sync_description").input("Nightly refresh")
    execution_id = start(console)

    rerun_until(console, lambda at: "Completed" in badge(at))
    execution = kbsync.engine.get(execution_id)
    page = texts(console)
    assert f"`{execution.job_id}`" in page
    assert re.search(r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  Sync completed successfully\.", page)
    metrics = {metric.label: metric.value for metric in console.metric}
    assert metrics["Scanned"] == str(execution.statistics["numberOfDocumentsScanned"]) == "20"
    assert metrics["New"] == "20"
    assert metrics["Metadata"] == "6"
    assert execution.description == "Nightly refresh"
    assert [toast.value for toast in console.toast] == [f"Sync completed: {execution.job_id}"]
    session_table = console.dataframe[0].value
    assert list(session_table["Status"]) == ["✅ Completed"]
    assert "Stop sync" not in [button.label for button in console.button]
    assert execution.trigger == "console"
    console.session_state["console_language"] = "es"  # the log follows the console's language
    assert "UTC  Sincronización completada correctamente." in texts(console.run())


def test_stop_sync_reaches_detenido(console, kbsync):
    kbsync.sandbox.speed = 2
    sign_in(console)
    execution_id = start(console)
    wait_for_execution(kbsync, execution_id, lambda e: e.job_id is not None)
    console.run()
    console.button(key=f"stop-{execution_id}").click().run()
    kbsync.sandbox.speed = 200
    rerun_until(console, lambda at: "Stopped" in badge(at))
    assert "UTC  Sync stopped." in texts(console)
    assert [toast.value for toast in console.toast][-1].startswith("Sync stopped")


def test_a_failing_sync_shows_its_reasons(console, kbsync):
    console.text_input(key="connection_data_source_id").input("SANDBOXDS2")
    sign_in(console)
    execution_id = start(console)
    rerun_until(console, lambda at: "Failed" in badge(at))
    reasons = kbsync.engine.get(execution_id).failure_reasons
    assert reasons and [error.value for error in console.error] == reasons


def test_a_conflict_offers_to_monitor_the_running_job(console, kbsync):
    kbsync.sandbox.speed = 2
    outside = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
    running = outside.start_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=SANDBOX_DATA_SOURCE_ID
    )["ingestionJob"]["ingestionJobId"]
    sign_in(console)
    refused = start(console)
    rerun_until(console, lambda at: "Failed" in badge(at))
    assert f"A sync already runs on this data source: job `{running}`" in texts(console)

    console.button(key=f"monitor-{refused}").click().run()
    attached = console.session_state[CURRENT_EXECUTION_KEY]
    assert attached != refused
    assert kbsync.engine.get(attached).job_id == running
    kbsync.sandbox.speed = 200
    rerun_until(console, lambda at: "Completed" in badge(at))
    assert kbsync.engine.get(attached).status is ExecutionStatus.COMPLETADO
    assert len(console.dataframe[0].value) == 2  # both executions of this session are listed
