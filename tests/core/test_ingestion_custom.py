"""Ingestion jobs into a CUSTOM data source, end to end on the embedded sandbox: batches of
IngestKnowledgeBaseDocuments and DeleteKnowledgeBaseDocuments within Bedrock's limits, each
document's final status from GetKnowledgeBaseDocuments, deduplication, retries with the batch's
clientToken, and cancel, counted on the sandbox's own log of calls."""

from dataclasses import replace

import pytest

from kbsync_core.ingestion.custom import batch_token
from kbsync_core.ingestion.documents import Document
from kbsync_core.runtime import Kbsync
from kbsync_sandbox import SANDBOX_CUSTOM_DATA_SOURCE_ID
from kbsync_sandbox import documents as sandbox_documents
from tests.support.waiting import wait_for

CONNECTION = "sandbox-custom"
RECORDS = 500
SPEED = 200
# The sandbox allows 5 writes per simulated second: at SPEED, 1,000 per real second.
RATE = 400

INGEST = "IngestKnowledgeBaseDocuments"
DELETE = "DeleteKnowledgeBaseDocuments"
GET = "GetKnowledgeBaseDocuments"


@pytest.fixture
def kbsync(fast_settings):
    kbsync = Kbsync.open(replace(fast_settings, sandbox_speed=SPEED, ingest_rate=RATE))
    yield kbsync
    kbsync.close()


def records(count: int = RECORDS, changed: range = range(0), deleted: range = range(0)):
    return [
        Document(
            id=f"doc-{n}",
            content=("" if n in deleted else f"# Record {n}\n\nBody of record {n}.")
            + (" Changed." if n in changed else ""),
            title=f"Record {n}",
            metadata={"number": n},
            deleted=n in deleted,
        )
        for n in range(count)
    ]


def start_job(kbsync, documents, **options):
    target = kbsync.ingestion.resolve(CONNECTION)
    assert target.target.data_source_type == "CUSTOM"
    return kbsync.ingestion.create_from_documents(
        target, documents, adapter_name="generic-json", **options
    )


def run_job(kbsync, documents, **options) -> dict:
    job = start_job(kbsync, documents, **options)
    kbsync.ingestion.wait(job.id, 60)
    return kbsync.ingestion.get(job.id)


def calls(kbsync, operation: str) -> list[dict]:
    return [parameters for name, parameters in kbsync.sandbox.calls if name == operation]


def stored(kbsync) -> dict[str, dict]:
    return {d["id"]: d for d in kbsync.sandbox.documents(SANDBOX_CUSTOM_DATA_SOURCE_ID)}


def test_records_then_the_same_again_then_ten_changed_and_five_deleted(kbsync):
    first = run_job(kbsync, records())
    assert first["status"] == "completed", first["error"]
    assert first["data"]["progress"] == {
        "processed": RECORDS, "total": RECORDS, "successful": RECORDS, "failed": 0, "skipped": 0,
    }  # fmt: skip
    assert first["result"]["entriesCreated"] == RECORDS
    assert first["data"]["results"][3] == {
        "sourceId": "doc-3", "status": "success", "entryId": "doc-3", "error": None,
    }  # fmt: skip
    ingests = calls(kbsync, INGEST)
    assert len(ingests) == RECORDS // 10  # full batches of 10, each sent once
    assert all(len(call["documents"]) == 10 for call in ingests)
    assert len({call["clientToken"] for call in ingests}) == len(ingests)
    documents = stored(kbsync)
    assert len(documents) == RECORDS
    assert {d["status"] for d in documents.values()} == {"INDEXED"}
    assert {d["ingestions"] for d in documents.values()} == {1}
    assert documents["doc-3"]["content"] == "# Record 3\n\nBody of record 3."
    assert documents["doc-3"]["attributes"]["number"] == 3
    # Statuses asked in groups of at most 10 identifiers.
    assert max(len(call["documentIdentifiers"]) for call in calls(kbsync, GET)) <= 10

    kbsync.sandbox.clear_calls()
    again = run_job(kbsync, records())
    assert again["data"]["progress"]["skipped"] == RECORDS
    # Nothing changed: no document operation, only the data source's type read at creation.
    assert [operation for operation, _ in kbsync.sandbox.calls] == ["GetDataSource"]

    changes = run_job(kbsync, records(changed=range(10), deleted=range(10, 15)))
    assert changes["status"] == "completed", changes["error"]
    assert changes["data"]["progress"] == {
        "processed": RECORDS, "total": RECORDS, "successful": 15, "failed": 0,
        "skipped": RECORDS - 15,
    }  # fmt: skip
    assert (changes["result"]["entriesCreated"], changes["result"]["entriesDeleted"]) == (10, 5)
    sent = [d["content"]["custom"]["customDocumentIdentifier"]["id"]
            for call in calls(kbsync, INGEST) for d in call["documents"]]  # fmt: skip
    assert sent == [f"doc-{n}" for n in range(10)]
    removed = [i["custom"]["id"] for call in calls(kbsync, DELETE)
               for i in call["documentIdentifiers"]]  # fmt: skip
    assert removed == [f"doc-{n}" for n in range(10, 15)]
    documents = stored(kbsync)
    assert documents["doc-12"]["status"] == "NOT_FOUND"
    assert documents["doc-4"]["content"].endswith("Changed.")
    assert documents["doc-4"]["ingestions"] == 2
    assert documents["doc-40"]["ingestions"] == 1


def test_throttling_and_a_lost_answer_are_retried_with_the_batchs_token(kbsync):
    kbsync.sandbox.inject_fault(INGEST, error="ThrottlingException", count=1)
    kbsync.sandbox.inject_fault(INGEST, lost_answer=True, count=1)
    job = run_job(kbsync, records(count=25))
    assert job["status"] == "completed", job["error"]
    assert job["data"]["progress"]["successful"] == 25
    tokens = [call["clientToken"] for call in calls(kbsync, INGEST)]
    # The first batch: throttled, then done but its answer lost, then answered.
    assert tokens[:3] == [batch_token(job["id"], 1)] * 3
    assert tokens[3:] == [batch_token(job["id"], 2), batch_token(job["id"], 3)]
    assert {d["ingestions"] for d in stored(kbsync).values()} == {1}  # nothing ingested twice


def test_a_document_bedrock_refuses_fails_alone_and_is_not_remembered(kbsync, monkeypatch):
    documents = records(count=3)
    documents[1] = replace(documents[1], content="x" * 200)
    monkeypatch.setattr(sandbox_documents, "MAX_DOCUMENT_BYTES", 100)  # over Bedrock's quota
    job = run_job(kbsync, documents)
    assert job["status"] == "completed"
    assert job["data"]["progress"] == {
        "processed": 3, "total": 3, "successful": 2, "failed": 1, "skipped": 0,
    }  # fmt: skip
    failed = job["data"]["results"][1]
    assert failed["status"] == "failed" and failed["entryId"] == "doc-1" and failed["error"]
    again = run_job(kbsync, documents)
    assert again["data"]["progress"]["skipped"] == 2  # the failed one is sent again
    assert again["data"]["progress"]["failed"] == 1


def test_a_cancel_stops_sending_and_says_how_many_went_in(kbsync):
    kbsync.ingestion.limiter.rate_per_second = 10  # a batch every 0.1 s
    job = start_job(kbsync, records(count=200))
    wait_for(lambda: len(calls(kbsync, INGEST)) >= 3)
    kbsync.ingestion.cancel(job.id)
    ended = kbsync.ingestion.wait(job.id, 30)
    sent_before = len(calls(kbsync, INGEST))
    assert ended.status == "cancelled"
    assert ended.sent < 200 and ended.sent == 10 * sent_before
    assert ended.error == (
        f"Cancelled: {ended.sent} of 200 records had been sent to Bedrock and stay there; "
        f"{ended.processed} had a result; the others were not sent."
    )
    assert len(stored(kbsync)) == ended.sent
    kbsync.sandbox.clear_calls()
    kbsync.ingestion.limiter.rate_per_second = RATE
    # What was not sent goes in with the next job; what was sent and indexed is skipped.
    kbsync.sandbox.finish_running_jobs()
    rest = run_job(kbsync, records(count=200))
    assert rest["data"]["progress"]["failed"] == 0
    assert len(calls(kbsync, INGEST)) * 10 >= 200 - ended.sent


def test_after_a_restart_the_empty_embedded_sandbox_gets_every_record_again(fast_settings):
    """The embedded sandbox's documents live in its process: a restart finds it empty, so the
    same records are sent again rather than skipped against documents it no longer holds."""
    settings = replace(fast_settings, sandbox_speed=SPEED, ingest_rate=RATE)
    first = Kbsync.open(settings)
    try:
        assert run_job(first, records(3))["data"]["progress"]["successful"] == 3
        assert run_job(first, records(3))["data"]["progress"]["skipped"] == 3
    finally:
        first.close()
    again = Kbsync.open(settings)  # the same database, a new (empty) sandbox
    try:
        assert stored(again) == {}
        sent = run_job(again, records(3))
        assert sent["data"]["progress"]["successful"] == 3, sent["data"]["progress"]
        assert set(stored(again)) == {"doc-0", "doc-1", "doc-2"}
    finally:
        again.close()
