"""The engine end to end on the sandbox: what an operator sees in an execution's record."""

import re
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from kbsync_core.errors import ExecutionFinishedError, ExecutionNotFoundError, NotMonitoredError
from kbsync_core.history import HistoryService
from kbsync_core.models import AwsCredentials, Execution, ExecutionStatus, SyncTarget
from kbsync_core.store import ExecutionStore, Lease
from kbsync_core.sync import SyncEngine, client_token_for
from kbsync_core.validation import HistoryRequest, SyncRequest
from kbsync_sandbox import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_FAILING_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
    SANDBOX_REGION,
)
from tests.conftest import TEST_SECRET, TEST_SESSION_TOKEN
from tests.support.waiting import WAIT_SECONDS, wait_for

TARGET = SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID)
FAILING_TARGET = SyncTarget(
    SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_FAILING_DATA_SOURCE_ID
)
CREDENTIALS = AwsCredentials.from_keys("AKIAKBSYNCTESTKEY001", TEST_SECRET, TEST_SESSION_TOKEN)
LOG_LINE = re.compile(r"^\[\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d{2}:\d{2}\] .+")


@pytest.fixture
def settings(fast_settings, database_url):
    """The engine's settings, on SQLite and on a real PostgreSQL."""
    return replace(fast_settings, database_url=database_url)


@pytest.fixture
def store(settings):
    store = ExecutionStore(settings.database_url)
    yield store
    store.close()


@pytest.fixture
def engine(sandboxed, settings, store):
    engine = SyncEngine(settings, store)
    yield engine
    engine.close()


def sync_request(target=TARGET, credentials=CREDENTIALS, description="engine test"):
    return SyncRequest(target, credentials, description)


def run_to_end(engine, execution_id):
    execution = engine.wait(execution_id, WAIT_SECONDS)
    assert execution.status.is_final, execution.logs
    return execution



def documents_in_bucket(data_source_id=SANDBOX_DATA_SOURCE_ID):
    client = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
    source = client.get_data_source(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=data_source_id
    )["dataSource"]
    bucket = source["dataSourceConfiguration"]["s3Configuration"]["bucketArn"].split(":::")[1]
    s3 = boto3.client("s3", region_name=SANDBOX_REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return bucket, [key for key in keys if not key.endswith(".metadata.json")]


def test_returns_at_once_with_a_pending_record(engine):
    execution = engine.start_sync(sync_request())
    assert execution.status is ExecutionStatus.PENDIENTE
    assert execution.logs[0].endswith("] Ejecución creada.")
    assert re.fullmatch(r"[0-9a-f-]{36}", execution.id)
    assert execution.trigger == "api"  # a SyncRequest says who asks; the API unless told
    run_to_end(engine, execution.id)


def test_an_execution_keeps_who_started_it(engine):
    started = engine.start_sync(replace(sync_request(), trigger="console"))
    done = run_to_end(engine, started.id)
    assert done.trigger == "console"
    assert done.to_dict()["trigger"] == "console"


def test_a_sync_completes_with_the_sandboxs_real_counts(engine, sandboxed):
    sandboxed.speed = 20  # a couple of seconds: room for polls to see it in progress
    _bucket, documents = documents_in_bucket()
    execution = run_to_end(engine, engine.start_sync(sync_request()).id)

    assert execution.status is ExecutionStatus.COMPLETADO
    assert execution.aws_status == "COMPLETE"
    assert execution.finished_at and execution.finished_at >= execution.started_at
    assert execution.statistics["numberOfDocumentsScanned"] == len(documents)
    assert execution.statistics["numberOfNewDocumentsIndexed"] == len(documents)
    assert execution.statistics["numberOfDocumentsFailed"] == 0
    assert all(LOG_LINE.match(line) for line in execution.logs), execution.logs
    texts = [line.split("] ", 1)[1] for line in execution.logs]
    assert texts[:3] == [
        "Ejecución creada.",
        "Iniciando tarea de sincronización en Bedrock Knowledge Base...",
        f"Ingestion Job iniciado: {execution.job_id}",
    ]
    assert "Estado actual: IN_PROGRESS" in texts
    assert texts[-2:] == ["Estado actual: COMPLETE", "Sincronización completada correctamente."]


def test_a_second_sync_counts_only_what_changed(engine):
    run_to_end(engine, engine.start_sync(sync_request()).id)
    bucket, documents = documents_in_bucket()
    s3 = boto3.client("s3", region_name=SANDBOX_REGION)
    s3.put_object(Bucket=bucket, Key="new-runbook.md", Body=b"# New runbook\n\nSteps.")
    s3.put_object(Bucket=bucket, Key=documents[0], Body=b"# Rewritten\n\nNew text.")
    s3.delete_object(Bucket=bucket, Key=documents[1])

    second = run_to_end(engine, engine.start_sync(sync_request()).id)
    assert second.status is ExecutionStatus.COMPLETADO
    assert second.statistics["numberOfNewDocumentsIndexed"] == 1
    assert second.statistics["numberOfModifiedDocumentsIndexed"] == 1
    assert second.statistics["numberOfDocumentsDeleted"] == 1


def test_a_failing_data_source_ends_fallido_with_its_reasons_logged(engine):
    execution = run_to_end(engine, engine.start_sync(sync_request(FAILING_TARGET)).id)
    assert execution.status is ExecutionStatus.FALLIDO
    assert execution.aws_status == "FAILED"
    assert execution.failure_reasons
    for reason in execution.failure_reasons:
        assert any(line.endswith(f"Motivo del fallo: {reason}") for line in execution.logs)
    assert execution.finished_at


def test_stop_reaches_detenido(engine, sandboxed):
    sandboxed.speed = 2  # slow enough to stop it mid-run
    execution = engine.start_sync(sync_request())
    wait_for(lambda: engine.get(execution.id).status is ExecutionStatus.EN_EJECUCION)
    assert not engine.is_stopping(engine.get(execution.id))
    engine.stop_sync(execution.id)
    # Stopping from the moment it is asked (stored), before AWS says STOPPING.
    assert engine.is_stopping(engine.get(execution.id))
    sandboxed.speed = 200
    stopped = run_to_end(engine, execution.id)
    assert not engine.is_stopping(stopped)
    assert stopped.status is ExecutionStatus.DETENIDO
    assert stopped.aws_status == "STOPPED"
    assert any(f"Deteniendo Ingestion Job: {stopped.job_id}" in line for line in stopped.logs)
    assert stopped.logs[-1].endswith("Sincronización detenida.")
    with pytest.raises(ExecutionFinishedError):
        engine.stop_sync(execution.id)
    with pytest.raises(ExecutionNotFoundError):
        engine.stop_sync("no-such-execution")


def test_a_stop_requested_before_the_job_starts_still_stops_it(engine, sandboxed):
    sandboxed.inject_fault(operation="StartIngestionJob", latency_seconds=0.5, count=1)
    execution = engine.start_sync(sync_request())
    engine.stop_sync(execution.id)
    assert run_to_end(engine, execution.id).status is ExecutionStatus.DETENIDO


def test_conflict_names_the_running_job_and_attaching_monitors_it(engine, sandboxed):
    sandboxed.speed = 2
    outside = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
    running = outside.start_ingestion_job(  # someone else's sync, e.g. from the AWS console
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=TARGET.data_source_id
    )["ingestionJob"]["ingestionJobId"]

    refused = run_to_end(engine, engine.start_sync(sync_request()).id)
    assert refused.status is ExecutionStatus.FALLIDO
    assert refused.conflict_job_id == running
    assert any("ConflictException" in line for line in refused.logs)
    assert any(
        f"Ya hay un Ingestion Job en curso en este data source: {running}" in line
        for line in refused.logs
    )

    attached = engine.monitor_job(TARGET, CREDENTIALS, refused.conflict_job_id)
    assert attached.job_id == running
    assert attached.trigger == "aws"  # a job kbsync did not start
    assert any(f"Monitorizando Ingestion Job existente: {running}" in x for x in attached.logs)
    # Pressing the button again watches the same execution, not a second one.
    assert engine.monitor_job(TARGET, CREDENTIALS, running).id == attached.id
    assert engine.running_count() == 1
    sandboxed.speed = 200
    assert run_to_end(engine, attached.id).status is ExecutionStatus.COMPLETADO


def test_attaching_to_a_job_kbsync_already_watches_returns_that_execution(engine, sandboxed):
    sandboxed.speed = 2
    first = engine.start_sync(sync_request())
    running = wait_for(lambda: engine.get(first.id).job_id)
    assert engine.monitor_job(TARGET, CREDENTIALS, running).id == first.id
    assert engine.running_count() == 1
    sandboxed.speed = 200
    assert run_to_end(engine, first.id).status is ExecutionStatus.COMPLETADO


def test_concurrent_resumes_start_one_monitor(sandboxed, settings):
    execution = leave_running_execution(sandboxed, settings)
    store = ExecutionStore(settings.database_url)
    engine = SyncEngine(settings, store)
    try:
        barrier = threading.Barrier(4)

        def resume():
            barrier.wait()
            engine.resume(store.get(execution.id), CREDENTIALS)

        threads = [threading.Thread(target=resume) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert engine.running_count() == 1
        sandboxed.speed = 200
        resumed = run_to_end(engine, execution.id)
        assert sum("Reanudando" in line for line in resumed.logs) == 1
    finally:
        engine.close()
        store.close()


@pytest.mark.parametrize(
    "fault",
    [{"error": "ThrottlingException"}, {"status": 500}],
    ids=["throttling", "server-error"],
)
def test_transient_errors_while_polling_are_logged_and_polling_goes_on(engine, sandboxed, fault):
    sandboxed.inject_fault(operation="GetIngestionJob", count=3, **fault)
    execution = run_to_end(engine, engine.start_sync(sync_request()).id)
    assert execution.status is ExecutionStatus.COMPLETADO
    transient = [line for line in execution.logs if "Error transitorio" in line]
    assert len(transient) == 3


@pytest.mark.parametrize(
    ("target", "credentials", "code"),
    [
        (SyncTarget(SANDBOX_REGION, "NOSUCHKB00", SANDBOX_DATA_SOURCE_ID), CREDENTIALS,
         "ResourceNotFoundException"),
        (TARGET, AwsCredentials.from_keys(DENIED_ACCESS_KEY_PREFIX + "000000", TEST_SECRET),
         "AccessDeniedException"),
    ],
    ids=["unknown-knowledge-base", "access-denied"],
)
def test_an_aws_error_ends_fallido_with_its_code(engine, target, credentials, code):
    execution = run_to_end(engine, engine.start_sync(sync_request(target, credentials)).id)
    assert execution.status is ExecutionStatus.FALLIDO
    assert any(f"Error de AWS: {code}: " in line for line in execution.logs)
    assert execution.job_id is None


def leave_running_execution(sandboxed, settings):
    """A process starts a sync and goes away while it runs, leaving it EN_EJECUCION."""
    sandboxed.speed = 2
    store = ExecutionStore(settings.database_url)
    engine = SyncEngine(settings, store)
    execution = engine.start_sync(sync_request())
    wait_for(lambda: store.get(execution.id).status is ExecutionStatus.EN_EJECUCION)
    engine.close()
    store.close()
    return execution


def test_a_restart_resumes_a_running_execution_without_starting_another_job(
    sandboxed, settings
):
    execution = leave_running_execution(sandboxed, settings)

    store = ExecutionStore(settings.database_url)
    # A process with credentials of its own takes over, at start, what nobody holds.
    engine = SyncEngine(settings, store, takeover_credentials=CREDENTIALS)
    try:
        assert engine.is_monitored(execution.id)
        sandboxed.speed = 200
        resumed = run_to_end(engine, execution.id)
        assert resumed.status is ExecutionStatus.COMPLETADO
        assert any("Reanudando la monitorización" in line for line in resumed.logs)
        starts = [call for call in sandboxed.calls if call[0] == "StartIngestionJob"]
        assert len(starts) == 1
    finally:
        engine.close()
        store.close()


def test_a_restart_before_the_job_id_was_saved_reuses_the_client_token(
    sandboxed, settings, store
):
    # The previous process created the record and AWS started the job, then it died before
    # saving the job id. Simulate exactly that: its lease is already past.
    execution = Execution(
        str(uuid.uuid4()), TARGET, "crashed", ExecutionStatus.PENDIENTE, "2026-11-30T10:00:00.000Z"
    )
    store.add(execution, lease=Lease(execution.id, "a-dead-replica", 0))
    client = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
    started = client.start_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id,
        dataSourceId=TARGET.data_source_id,
        clientToken=client_token_for(execution.id),
    )["ingestionJob"]["ingestionJobId"]

    engine = SyncEngine(settings, store, takeover_credentials=CREDENTIALS)
    try:
        resumed = run_to_end(engine, execution.id)
    finally:
        engine.close()
    assert resumed.job_id == started
    assert resumed.status is ExecutionStatus.COMPLETADO
    starts = [params for name, params in sandboxed.calls if name == "StartIngestionJob"]
    assert {params["clientToken"] for params in starts} == {client_token_for(execution.id)}


def test_without_credentials_a_restart_marks_interrupted_and_history_reconciles(
    sandboxed, settings
):
    execution = leave_running_execution(sandboxed, settings)
    sandboxed.finish_running_jobs()

    store = ExecutionStore(settings.database_url)
    engine = SyncEngine(settings, store)  # no credentials of its own
    try:
        interrupted = store.get(execution.id)
        assert interrupted.interrupted
        assert interrupted.status is ExecutionStatus.EN_EJECUCION
        with pytest.raises(NotMonitoredError):
            engine.stop_sync(execution.id)

        history = HistoryService(engine, engine.clients)
        rows = history.read(HistoryRequest(TARGET, CREDENTIALS, 30))
        reconciled = store.get(execution.id)
        assert reconciled.status is ExecutionStatus.COMPLETADO
        assert not reconciled.interrupted
        assert reconciled.finished_at
        assert reconciled.statistics["numberOfDocumentsScanned"] > 0
        assert any("Estado final recuperado desde AWS: COMPLETE" in x for x in reconciled.logs)
        assert [row["id"] for row in rows] == [execution.id]
    finally:
        engine.close()
        store.close()


def test_secrets_reach_neither_the_database_nor_any_log(sandboxed, fast_settings, caplog):
    caplog.set_level("DEBUG")
    engine = SyncEngine(fast_settings, ExecutionStore(fast_settings.database_url))
    ok = engine.start_sync(sync_request())
    failed = engine.start_sync(sync_request(SyncTarget(SANDBOX_REGION, "NOSUCHKB00", "NOSUCHDS00")))
    run_to_end(engine, ok.id)
    run_to_end(engine, failed.id)
    engine.close()
    engine.store.close()
    database_file = Path(fast_settings.database_url.removeprefix("sqlite:///"))
    # The database and any write-ahead log beside it.
    database_bytes = b"".join(p.read_bytes() for p in database_file.parent.glob("kbsync.sqlite3*"))
    assert ok.id.encode() in database_bytes
    for secret in (TEST_SECRET, TEST_SESSION_TOKEN):
        assert secret.encode() not in database_bytes
        assert secret not in caplog.text
        assert secret not in repr(CREDENTIALS)


@pytest.mark.parametrize("ended_before_the_first_look", [False, True])
def test_monitoring_a_job_again_after_it_ended_keeps_one_execution_and_one_history_row(
    engine, sandboxed, ended_before_the_first_look
):
    outside = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
    job = outside.start_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=TARGET.data_source_id
    )["ingestionJob"]["ingestionJobId"]
    if ended_before_the_first_look:
        sandboxed.finish_running_jobs()

    first = engine.monitor_job(TARGET, CREDENTIALS, job)
    assert run_to_end(engine, first.id).status is ExecutionStatus.COMPLETADO
    again = engine.monitor_job(TARGET, CREDENTIALS, job)  # the button pressed again, later
    assert again.id == first.id
    assert again.status is ExecutionStatus.COMPLETADO
    assert engine.store.count() == 1
    assert engine.running_count() == 0

    rows = HistoryService(engine, engine.clients).read(HistoryRequest(TARGET, CREDENTIALS, 30))
    assert [(row["id"], row["trigger"]) for row in rows if row["jobId"] == job] == [
        (first.id, "aws")
    ]


def test_history_says_aws_started_the_jobs_kbsync_did_not(engine):
    outside = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
    job = outside.start_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=TARGET.data_source_id
    )["ingestionJob"]["ingestionJobId"]
    mine = run_to_end(engine, engine.start_sync(sync_request()).id)  # refused or after it
    rows = HistoryService(engine, engine.clients).read(HistoryRequest(TARGET, CREDENTIALS, 30))
    triggers = {row["jobId"] or row["id"]: row["trigger"] for row in rows}
    assert triggers[job] == "aws"
    assert triggers[mine.job_id or mine.id] == "api"


def test_a_sync_request_names_a_known_trigger():
    with pytest.raises(ValueError, match="trigger"):
        replace(sync_request(), trigger="cron")
