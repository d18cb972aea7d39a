"""Ingestion jobs into an S3 data source, end to end on the embedded sandbox: records written to
the bucket as `<id>.md` plus a metadata sidecar, one sync, each record's result from it;
deduplication, deletions and cancel as an operator would see them."""

import json
from dataclasses import replace

import pytest

from kbsync_core import events
from kbsync_core.errors import (
    IngestionInvalidError,
    IngestionJobFinishedError,
    IngestionJobNotFoundError,
    IngestionTargetNotFoundError,
)
from kbsync_core.events import log_event
from kbsync_core.ingestion.documents import Document
from kbsync_core.ingestion.metadata import sidecar_body
from kbsync_core.ingestion.s3 import keys_named, object_key, refused_by_another_sync
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.runtime import Kbsync
from kbsync_core.validation import SyncRequest
from kbsync_sandbox import SANDBOX_KNOWLEDGE_BASE_ID
from tests.support.waiting import wait_for

DATA_SOURCE_ID = "INGESTS301"
TARGET_S3 = SyncTarget("us-east-1", SANDBOX_KNOWLEDGE_BASE_ID, DATA_SOURCE_ID)
RECORDS = 500
SPEED = 1000


@pytest.fixture
def kbsync(fast_settings):
    kbsync = Kbsync.open(replace(fast_settings, sandbox_speed=SPEED))
    kbsync.bucket = kbsync.sandbox.add_data_source(DATA_SOURCE_ID, {})
    yield kbsync
    kbsync.close()


def records(count: int = RECORDS, changed: range = range(0), deleted: range = range(0)):
    return [
        Document(
            id=f"doc-{n}",
            content=("" if n in deleted else f"# Record {n}\n\nBody of record {n}.")
            + (" Changed." if n in changed else ""),
            metadata={"number": n, "tags": ("a", "b")},
            deleted=n in deleted,
        )
        for n in range(count)
    ]


def run_job(kbsync, documents, **options) -> dict:
    target = kbsync.ingestion.resolve(SANDBOX_KNOWLEDGE_BASE_ID, DATA_SOURCE_ID)
    job = kbsync.ingestion.create_from_documents(
        target, documents, adapter_name="generic-json", **options
    )
    assert job.status == "pending"
    kbsync.ingestion.wait(job.id, 60)
    return kbsync.ingestion.get(job.id)


def syncs_started(kbsync) -> int:
    return sum(operation == "StartIngestionJob" for operation, _ in kbsync.sandbox.calls)


def s3_client(kbsync):
    return kbsync.clients.s3(kbsync.ingestion.server_credentials, "us-east-1")


def bucket_keys(kbsync) -> set[str]:
    pages = s3_client(kbsync).get_paginator("list_objects_v2").paginate(Bucket=kbsync.bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def read_object(kbsync, key: str) -> bytes:
    return s3_client(kbsync).get_object(Bucket=kbsync.bucket, Key=key)["Body"].read()


def test_records_then_the_same_again_then_ten_changed_and_five_deleted(kbsync):
    first = run_job(kbsync, records())
    assert first["status"] == "completed", first["error"]
    assert first["data"]["progress"] == {
        "processed": RECORDS,
        "total": RECORDS,
        "successful": RECORDS,
        "failed": 0,
        "skipped": 0,
    }
    assert first["result"] == {
        "entriesCreated": RECORDS,
        "entriesSkipped": 0,
        "entriesDeleted": 0,
        "embeddingsGenerated": None,
        "error": None,
    }
    assert first["data"]["results"][7] == {
        "sourceId": "doc-7",
        "status": "success",
        "entryId": f"s3://{kbsync.bucket}/doc-7.md",
        "error": None,
    }
    assert len(bucket_keys(kbsync)) == 2 * RECORDS
    assert read_object(kbsync, "doc-7.md") == b"# Record 7\n\nBody of record 7."
    sidecar = json.loads(read_object(kbsync, "doc-7.md.metadata.json"))
    assert sidecar == sidecar_body(records()[7])
    assert sidecar["metadataAttributes"]["number"] == 7
    sync = kbsync.engine.get(first["syncExecutionId"])
    assert sync.trigger == "ingestion"
    assert sync.statistics["numberOfNewDocumentsIndexed"] == RECORDS
    assert syncs_started(kbsync) == 1

    again = run_job(kbsync, records())
    assert again["status"] == "completed"
    assert again["data"]["progress"]["skipped"] == RECORDS
    assert again["result"]["entriesSkipped"] == RECORDS
    assert syncs_started(kbsync) == 1  # nothing changed: no sync at all
    assert again["syncExecutionId"] is None

    changes = run_job(kbsync, records(changed=range(10), deleted=range(10, 15)))
    assert changes["status"] == "completed", changes["error"]
    assert changes["data"]["progress"] == {
        "processed": RECORDS,
        "total": RECORDS,
        "successful": 15,
        "failed": 0,
        "skipped": RECORDS - 15,
    }
    assert changes["result"]["entriesCreated"] == 10
    assert changes["result"]["entriesDeleted"] == 5
    statistics = kbsync.engine.get(changes["syncExecutionId"]).statistics
    # Exactly those reached Bedrock: ten modified, five deleted, nothing new.
    assert statistics["numberOfModifiedDocumentsIndexed"] == 10
    assert statistics["numberOfDocumentsDeleted"] == 5
    assert statistics["numberOfNewDocumentsIndexed"] == 0
    keys = bucket_keys(kbsync)
    assert "doc-12.md" not in keys and "doc-12.md.metadata.json" not in keys
    assert read_object(kbsync, "doc-3.md").endswith(b"Changed.")
    assert len(keys) == 2 * (RECORDS - 5)
    assert syncs_started(kbsync) == 2


def test_deleted_documents_are_forgotten_and_force_sends_everything(kbsync):
    run_job(kbsync, records(count=4))
    removed = run_job(kbsync, records(count=4, deleted=range(2, 4)))
    assert removed["result"]["entriesDeleted"] == 2
    # Deleting them again sends nothing: kbsync sent nothing of that id that is still there.
    gone = run_job(kbsync, records(count=4, deleted=range(2, 4)))
    assert gone["data"]["progress"]["skipped"] == 4
    assert "nothing to delete" in gone["data"]["results"][2]["error"]
    assert syncs_started(kbsync) == 2
    # force sends every record, unchanged or not, and deletes what is marked deleted.
    forced = run_job(kbsync, records(count=4, deleted=range(3, 4)), force=True)
    assert forced["result"]["entriesCreated"] == 3
    assert forced["result"]["entriesDeleted"] == 1
    assert syncs_started(kbsync) == 3


def test_a_record_the_sync_refuses_fails_alone_and_is_sent_again_next_time(kbsync):
    documents = records(count=3)
    documents[1] = replace(documents[1], metadata={"big": "x" * 11_000})  # sidecar over 10 KB
    job = run_job(kbsync, documents)
    assert job["status"] == "completed"
    results = {r["sourceId"]: r for r in job["data"]["results"]}
    assert results["doc-1"]["status"] == "failed"
    assert "doc-1.md.metadata.json" in results["doc-1"]["error"]
    # The sync FAILED as a whole (the sandbox fails it for one bad document): so do the rest.
    assert {results["doc-0"]["status"], results["doc-2"]["status"]} == {"failed"}
    assert job["data"]["progress"]["failed"] == 3
    fixed = run_job(kbsync, records(count=3))
    assert fixed["data"]["progress"]["successful"] == 3  # nothing was stored as sent


def test_a_cancel_while_the_sync_runs_stops_it_and_says_what_was_sent(kbsync):
    kbsync.sandbox.speed = 1  # the sync lasts a minute
    target = kbsync.ingestion.resolve(SANDBOX_KNOWLEDGE_BASE_ID, DATA_SOURCE_ID)
    job = kbsync.ingestion.create_from_documents(
        target, records(count=20), adapter_name="generic-json"
    )

    def sync_started():
        execution_id = kbsync.ingestion.job(job.id).sync_execution_id
        execution = execution_id and kbsync.engine.get(execution_id)
        return execution and execution.job_id and execution

    sync = wait_for(sync_started)
    kbsync.ingestion.cancel(job.id)
    wait_for(lambda: kbsync.engine.get(sync.id).aws_status == "STOPPING")
    kbsync.sandbox.speed = SPEED
    ended = kbsync.ingestion.wait(job.id, 30)
    assert ended.status == "cancelled"
    assert ended.error.startswith("Cancelled: 20 of 20 records had been sent to the data source's")
    assert kbsync.engine.get(sync.id).status is ExecutionStatus.DETENIDO
    assert ended.processed == 0  # none was indexed by kbsync's sync: none has a result
    with pytest.raises(IngestionJobFinishedError, match="is already cancelled"):
        kbsync.ingestion.cancel(job.id)


def test_a_job_that_meets_another_sync_waits_for_it_and_then_syncs(kbsync):
    kbsync.sandbox.speed = 1  # the other sync lasts a while
    target = kbsync.ingestion.resolve(SANDBOX_KNOWLEDGE_BASE_ID, DATA_SOURCE_ID)
    other = kbsync.engine.start_sync(
        SyncRequest(target.target, kbsync.ingestion.server_credentials, "an operator's sync")
    )
    wait_for(lambda: kbsync.engine.get(other.id).job_id)
    job = kbsync.ingestion.create_from_documents(
        target, records(count=20), adapter_name="generic-json"
    )
    # Refused by the running sync: the job waits rather than failing its records.
    wait_for(lambda: syncs_started(kbsync) >= 2)
    assert kbsync.ingestion.job(job.id).status == "processing"
    kbsync.sandbox.speed = SPEED
    kbsync.sandbox.finish_running_jobs()
    ended = kbsync.ingestion.get(kbsync.ingestion.wait(job.id, 30).id)
    assert ended["status"] == "completed", ended["error"]
    assert ended["data"]["progress"]["successful"] == 20
    sync = kbsync.engine.get(ended["syncExecutionId"])
    assert sync.status is ExecutionStatus.COMPLETADO and sync.id != other.id
    assert sync.statistics["numberOfNewDocumentsIndexed"] == 20


def test_a_job_refused_before_anything_is_staged(kbsync):
    target = kbsync.ingestion.resolve(SANDBOX_KNOWLEDGE_BASE_ID, DATA_SOURCE_ID)
    twice = records(count=3) + records(count=1)
    with pytest.raises(IngestionInvalidError) as refused:
        kbsync.ingestion.create_from_documents(target, twice, adapter_name="generic-json")
    assert [p.path for p in refused.value.problems] == ["data[0].id", "data[3].id"]
    with pytest.raises(IngestionInvalidError, match="no records"):
        kbsync.ingestion.create_from_documents(target, [], adapter_name="generic-json")
    with pytest.raises(IngestionTargetNotFoundError):
        kbsync.ingestion.resolve("NOSUCHKB00")
    with pytest.raises(IngestionTargetNotFoundError):
        kbsync.ingestion.resolve("not a connection nor a knowledge base")
    with pytest.raises(IngestionTargetNotFoundError):
        kbsync.ingestion.resolve(SANDBOX_KNOWLEDGE_BASE_ID, "NOSUCHDS00")
    # Three S3 data sources on the sandbox's knowledge base: say which.
    with pytest.raises(IngestionInvalidError, match="say which with dataSourceId"):
        kbsync.ingestion.resolve(SANDBOX_KNOWLEDGE_BASE_ID)
    with pytest.raises(IngestionJobNotFoundError):
        kbsync.ingestion.get("no-such-job")
    assert kbsync.ingestion.list()["total"] == 0


def test_jobs_are_listed_newest_first_with_filters(kbsync):
    first = run_job(kbsync, records(count=2))
    second = run_job(kbsync, records(count=2))
    listed = kbsync.ingestion.list()
    assert listed["total"] == 2
    assert [job["id"] for job in listed["jobs"]] == [second["id"], first["id"]]
    assert kbsync.ingestion.list(status="failed") == {"total": 0, "jobs": []}
    page = kbsync.ingestion.list(limit=1, offset=1, include_payload=True)
    assert [job["id"] for job in page["jobs"]] == [first["id"]] and page["total"] == 2
    assert kbsync.ingestion.list(created_from="2999-01-01")["total"] == 0
    assert kbsync.ingestion.list(created_to=first["created_at"])["total"] == 1


def test_object_keys_are_stable_safe_and_one_per_id():
    assert object_key("", "doc-1") == "doc-1.md"
    assert object_key("kb/", "Page://content/acme/a b") == (
        "kb/Page%3A%2F%2Fcontent%2Facme%2Fa%20b.md"
    )
    assert object_key("", "Café") == "Caf%C3%A9.md"
    long_a, long_b = object_key("", "é" * 2000), object_key("", "é" * 1999 + "e")
    assert len(long_a.encode()) <= 1024 - len(".metadata.json") and long_a != long_b
    assert "%" not in long_a.split("~")[0][-2:]
    reason = (
        "Encountered error: The metadata file s3://bucket/kb/doc-1.md.metadata.json exceeds "
        "the maximum size of 10 KB. Ignored s3://bucket/kb/doc-10.md: unsupported."
    )
    assert keys_named(reason) == {"kb/doc-1.md", "kb/doc-10.md"}


def test_a_refusal_by_another_sync_is_known_even_when_that_sync_ended_before_it_was_named():
    """The running job is looked up after the ConflictException; one that ended meanwhile
    leaves none to name, and the job must still wait and sync again, not fail its records."""
    refused = Execution(
        "refused", TARGET_S3, "an ingestion's sync", ExecutionStatus.FALLIDO,
        "2026-12-01T10:00:00.000Z",
        events=[log_event(events.AWS_ERROR, error="ConflictException: busy",
                          code="ConflictException")],
    )
    assert refused.conflict_job_id is None and refused_by_another_sync(refused)
    named = replace(refused, events=[], conflict_job_id="ABCDEFGHIJ")
    assert refused_by_another_sync(named)
    denied = replace(refused, events=[log_event(events.AWS_ERROR, error="AccessDenied: no",
                                                code="AccessDeniedException")])
    assert not refused_by_another_sync(denied)
    assert not refused_by_another_sync(replace(refused, job_id="ABCDEFGHIJ"))
