"""Table jobs end to end on the embedded sandbox, from its sample source orders_db: the first run
loads the whole table, the next exactly the rows added (one sharing the last row's created_at),
then nothing; a failed run keeps the watermark; documents read back from the CUSTOM data source
and from the S3 one's bucket; every validation code, all problems at once; slots fired once."""

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kbsync_core.errors import TableJobBusyError, TableJobInvalidError
from kbsync_core.runtime import Kbsync
from kbsync_core.store.table_jobs import RUNNING, TRIGGER_MANUAL, TableRunRecord
from kbsync_core.tables.sample import SAMPLE_ROWS
from kbsync_core.timefmt import iso_utc
from kbsync_sandbox import SANDBOX_CUSTOM_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID
from tests.support.waiting import wait_for

SPEED = 1000
RATE = 400
WAIT = 60


@pytest.fixture
def kbsync(fast_settings):
    kbsync = Kbsync.open(replace(fast_settings, sandbox_speed=SPEED, ingest_rate=RATE))
    yield kbsync
    kbsync.close()


def body(**changes) -> dict:
    """Seed 004's example, on the sandbox's orders_db and connection sandbox-custom, its window
    starting in an hour (no slot fires during a test unless it says so)."""
    now = datetime.now(UTC)
    return {
        "job_name": "sync_orders",
        "source_table": "orders_db.orders",
        "kb_name": "sandbox-custom",
        "content_columns": ["product", "description"],
        "filter_column": "created_at",
        "interval": "10 MINUTES",
        "start_time": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        "end_time": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        **changes,
    }


def run(kbsync, job_id: str) -> TableRunRecord:
    started = kbsync.table_jobs.run_now(job_id)
    assert started.status == RUNNING
    ended = kbsync.table_jobs.wait(started.id, WAIT)
    assert ended.status != RUNNING, ended
    return ended


def sample(kbsync):
    return closing(sqlite3.connect(kbsync.table_jobs.sample_file, isolation_level=None))


def ingestion_jobs(kbsync) -> int:
    return kbsync.ingestion.list(limit=100)["total"]


def sent_ids(kbsync, since: int) -> list[str]:
    return [
        document["content"]["custom"]["customDocumentIdentifier"]["id"]
        for name, call in kbsync.sandbox.calls[since:]
        if name == "IngestKnowledgeBaseDocuments"
        for document in call["documents"]
    ]


def test_the_first_run_loads_the_table_then_exactly_the_new_rows_then_nothing(kbsync):
    job = kbsync.table_jobs.create(body())
    data = kbsync.table_jobs.data(job)
    assert data["status"] == "scheduled" and data["job_name"] == "sync_orders"
    assert data["job_id"].startswith("job_") and data["next_run"] == job.start_at

    first = run(kbsync, job.id)
    assert (first.status, first.error) == ("completed", None)
    assert (first.rows_read, first.rows_sent, first.rows_skipped, first.rows_failed) == (
        SAMPLE_ROWS, SAMPLE_ROWS, 0, 0,
    )  # fmt: skip
    documents = {d["id"]: d for d in kbsync.sandbox.documents(SANDBOX_CUSTOM_DATA_SOURCE_ID)}
    assert len(documents) == SAMPLE_ROWS
    with sample(kbsync) as connection:
        product, description, price, stock, created = connection.execute(
            "SELECT product, description, price, in_stock, created_at FROM orders "
            "WHERE order_id = 7"
        ).fetchone()
    seventh = documents["orders-7"]
    assert seventh["status"] == "INDEXED"
    assert seventh["content"] == f"product: {product}\ndescription: {description}"
    attributes = seventh["attributes"]
    assert attributes["price"] == price and attributes["in_stock"] is bool(stock)
    assert attributes["created_at"] == created and attributes["order_id"] == 7
    assert "product" not in attributes  # content columns are the content, not metadata
    # The ingestion job says which table job made it.
    made = kbsync.ingestion.get(first.ingestion_job_id)
    assert made["data"]["adapterId"] == f"table-job:{job.id}"
    watermark = kbsync.table_jobs.body(job.id)["watermark"]
    assert watermark == {"filter_value": "2025-06-20 20:00:00", "key": [SAMPLE_ROWS]}

    added = kbsync.table_jobs.add_sample_rows(3)
    with sample(kbsync) as connection:
        tied = connection.execute(
            "SELECT created_at FROM orders WHERE order_id = ?", (added[0],)
        ).fetchone()[0]
    assert tied == watermark["filter_value"]  # shares the last loaded row's timestamp
    calls = len(kbsync.sandbox.calls)
    second = run(kbsync, job.id)
    assert (second.status, second.rows_read, second.rows_sent, second.rows_skipped) == (
        "completed", 3, 3, 0,
    )  # fmt: skip
    assert sorted(sent_ids(kbsync, calls)) == sorted(f"orders-{n}" for n in added)

    before = ingestion_jobs(kbsync)
    calls = len(kbsync.sandbox.calls)
    third = run(kbsync, job.id)
    assert (third.status, third.rows_read, third.rows_sent, third.ingestion_job_id) == (
        "skipped", 0, 0, None,
    )  # fmt: skip
    assert ingestion_jobs(kbsync) == before and sent_ids(kbsync, calls) == []
    runs = kbsync.table_jobs.body(job.id)["runs"]
    assert [r["status"] for r in runs] == ["skipped", "completed", "completed"]
    assert set(runs[0]) >= {"status", "started_at", "finished_at", "rows_read", "rows_sent",
                            "rows_skipped", "rows_failed", "error"}  # fmt: skip


def test_a_failed_run_keeps_the_watermark_and_the_next_reads_the_same_rows(kbsync):
    job = kbsync.table_jobs.create(body())
    assert run(kbsync, job.id).status == "completed"
    watermark = kbsync.table_jobs.get(job.id).watermark
    added = kbsync.table_jobs.add_sample_rows(2)
    with sample(kbsync) as connection:
        connection.execute("ALTER TABLE orders RENAME TO orders_away")
    failed = run(kbsync, job.id)
    assert failed.status == "failed" and "no table 'orders'" in failed.error, failed
    assert kbsync.table_jobs.get(job.id).watermark == watermark
    with sample(kbsync) as connection:
        connection.execute("ALTER TABLE orders_away RENAME TO orders")
    retried = run(kbsync, job.id)
    assert (retried.status, retried.rows_read, retried.rows_sent) == ("completed", 2, 2)
    assert kbsync.table_jobs.get(job.id).watermark["key"][0]["value"] == added[-1]


def test_an_ingestion_that_fails_keeps_the_watermark(kbsync):
    """sandbox-failing's syncs fail: the rows went to its bucket, but the run failed."""
    job = kbsync.table_jobs.create(body(kb_name="sandbox-failing"))
    failed = run(kbsync, job.id)
    assert failed.status == "failed" and failed.ingestion_job_id, failed
    assert "watermark did not move" in failed.error
    assert kbsync.table_jobs.get(job.id).watermark is None
    again = run(kbsync, job.id)
    assert again.rows_read == SAMPLE_ROWS  # all of them again


def s3_object(kbsync, key_suffix: str) -> bytes:
    agent = kbsync.clients.bedrock_agent(kbsync.ingestion.server_credentials, "us-east-1")
    configuration = agent.get_data_source(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId="SANDBOXDS1"
    )["dataSource"]["dataSourceConfiguration"]["s3Configuration"]
    bucket = configuration["bucketArn"].split(":::")[-1]
    s3 = kbsync.clients.s3(kbsync.ingestion.server_credentials, "us-east-1")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"].endswith("/" + key_suffix) or item["Key"] == key_suffix
    ]
    assert len(keys) == 1, keys
    return s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()


def test_rows_into_an_s3_data_source_and_an_edited_row_rewrites_its_document(kbsync):
    job = kbsync.table_jobs.create(body(kb_name="sandbox", content_columns=["description"]))
    first = run(kbsync, job.id)
    assert (first.status, first.rows_read) == ("completed", SAMPLE_ROWS), first
    with sample(kbsync) as connection:
        description, category, quantity = connection.execute(
            "SELECT description, category, quantity FROM orders WHERE order_id = 5"
        ).fetchone()
    assert s3_object(kbsync, "orders-5.md").decode() == f"description: {description}"
    sidecar = json.loads(s3_object(kbsync, "orders-5.md.metadata.json"))["metadataAttributes"]
    assert sidecar["category"] == category and sidecar["quantity"] == quantity
    assert sidecar["product"]  # not a content column here: metadata
    with sample(kbsync) as connection:
        connection.execute(
            "UPDATE orders SET description = 'Sold out: back in July.', "
            "created_at = '2030-01-01 00:00:00' WHERE order_id = 5"
        )
    edited = run(kbsync, job.id)
    assert (edited.status, edited.rows_read, edited.rows_sent) == ("completed", 1, 1), edited
    assert s3_object(kbsync, "orders-5.md") == b"description: Sold out: back in July."
    sidecar = json.loads(s3_object(kbsync, "orders-5.md.metadata.json"))["metadataAttributes"]
    assert sidecar["created_at"] == "2030-01-01 00:00:00"


# -- validation ------------------------------------------------------------------------------


def refused(kbsync, payload) -> TableJobInvalidError:
    with pytest.raises(TableJobInvalidError) as refusal:
        kbsync.table_jobs.create(payload)
    return refusal.value


def test_every_problem_at_once_under_invalid_request(kbsync):
    error = refused(kbsync, body(
        job_name="", content_columns=["product", "colour"], filter_column="modified",
        interval="EVERY TUESDAY", start_time="19/06/2025", kb_name="no-such-kb",
    ))  # fmt: skip
    assert error.code == "INVALID_REQUEST" and error.message == "Invalid job configuration"
    assert error.details[0] == "job_name is required"
    codes = {(p.field, p.code) for p in error.problems}
    assert codes == {
        ("job_name", "INVALID_REQUEST"),
        ("content_columns", "INVALID_TABLE"),
        ("filter_column", "INVALID_TABLE"),
        ("interval", "INVALID_INTERVAL"),
        ("start_time", "INVALID_DATETIME"),
        ("kb_name", "INVALID_KB"),
    }
    assert len(error.details) == 6
    missing = refused(kbsync, {})
    assert missing.details == [f"{name} is required" for name in (
        "job_name", "source_table", "kb_name", "content_columns", "filter_column", "interval",
        "start_time", "end_time",
    )]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"source_table": "sales_db.orders"}, "INVALID_TABLE", "unknown source 'sales_db'"),
        ({"source_table": "orders_db.invoices"}, "INVALID_TABLE", "no table 'invoices'"),
        ({"source_table": "orders"}, "INVALID_TABLE", "<source>.<table>"),
        ({"content_columns": ["colour"]}, "INVALID_TABLE", "'colour' does not exist"),
        ({"kb_name": "orders_kb"}, "INVALID_KB", "'orders_kb' does not exist"),
        # The sandbox's knowledge base, by name: three data sources accept documents.
        ({"kb_name": "kbsync-sandbox-knowledge-base"}, "INVALID_KB", "3 data sources"),
        ({"interval": "30 SECONDS"}, "INVALID_INTERVAL", "at most once a minute"),
        ({"interval": "2 FORTNIGHTS"}, "INVALID_INTERVAL", "Unknown interval unit"),
        ({"start_time": "2025-06-19 6pm"}, "INVALID_DATETIME", "not an ISO 8601"),
        ({"end_time": "2020-01-01T00:00:00"}, "INVALID_DATETIME", "after start_time"),
    ],
)
def test_each_code_alone(kbsync, changes, code, words):
    error = refused(kbsync, body(**changes))
    assert error.code == code, error.details
    assert len(error.details) == 1 and words in error.details[0], error.details


def test_window_limits_duplicates_and_the_active_jobs_limit(kbsync):
    start = datetime.now(UTC) + timedelta(hours=1)
    too_long = refused(kbsync, body(
        start_time=start.isoformat(), end_time=(start + timedelta(days=30, seconds=1)).isoformat()
    ))  # fmt: skip
    assert too_long.code == "INVALID_DATETIME" and "at most 30 days" in too_long.details[0]
    # Exactly 30 days, with offsets: accepted; a time without an offset is UTC.
    job = kbsync.table_jobs.create(body(
        start_time="2099-01-01T10:00:00+02:00", end_time="2099-01-31T08:00:00Z",
    ))  # fmt: skip
    assert (job.start_at, job.end_at) == ("2099-01-01T08:00:00.000Z", "2099-01-31T08:00:00.000Z")
    assert job.next_slot_at == job.start_at
    duplicate = refused(kbsync, body())
    assert (
        duplicate.code == "DUPLICATE_JOB"
        and "'sync_orders' already exists" in (duplicate.details[0])
    )
    for n in range(99):
        kbsync.table_jobs._store.insert(replace(job, id=f"job_filler{n}", name=f"filler {n}"))
    full = refused(kbsync, body(job_name="one too many"))
    assert full.code == "INVALID_REQUEST" and "already 100 active jobs" in full.details[0]


def test_pause_resume_finished_and_one_run_at_a_time(kbsync):
    job = kbsync.table_jobs.create(body())
    paused = kbsync.table_jobs.data(kbsync.table_jobs.pause(job.id))
    assert (paused["status"], paused["next_run"]) == ("paused", None)
    resumed = kbsync.table_jobs.data(kbsync.table_jobs.resume(job.id))
    assert (resumed["status"], resumed["next_run"]) == ("scheduled", job.next_slot_at)
    # A run under way (claimed, as a replica's would be): run now is refused.
    under_way = kbsync.table_jobs._claim(job, "2000-01-01T00:00:00.000Z", TRIGGER_MANUAL,
                                         record_skipped=False)  # fmt: skip
    assert under_way.status == RUNNING
    with pytest.raises(TableJobBusyError):
        kbsync.table_jobs.run_now(job.id)
    ended = kbsync.table_jobs._store.get(job.id)
    finished = replace(ended, id="job_over", name="over", end_at="2001-01-01T00:00:00.000Z",
                       running_run_id=None)  # fmt: skip
    kbsync.table_jobs._store.insert(finished)
    over = kbsync.table_jobs.data(kbsync.table_jobs.get("job_over"))
    assert (over["status"], over["next_run"]) == ("finished", None)
    kbsync.table_jobs.delete(job.id)
    assert [j["job_id"] for j in kbsync.table_jobs.list()] == ["job_over"]


def test_a_window_that_starts_now_runs_at_once_then_every_interval(kbsync):
    # "now" to the second, as a client writes it: a moment past once the request arrives.
    start = datetime.now(UTC).replace(microsecond=0)
    job = kbsync.table_jobs.create(body(start_time=start.strftime("%Y-%m-%dT%H:%M:%S")))
    assert kbsync.table_jobs.data(job)["next_run"] == iso_utc(start)  # not 10 minutes on
    wait_for(lambda: kbsync.table_jobs._store.runs(job.id))  # the background tick fires it
    (first,) = kbsync.table_jobs._store.runs(job.id)
    assert first.slot_at == iso_utc(start)
    ended = kbsync.table_jobs.wait(first.id, WAIT)
    assert ended.rows_read == ended.rows_sent > 0, ended
    assert kbsync.table_jobs.get(job.id).next_slot_at == iso_utc(start + timedelta(minutes=10))


def test_missed_slots_make_one_run_and_each_slot_runs_once(kbsync):
    job = kbsync.table_jobs.create(body(interval="10 MINUTES"))
    start = datetime.fromisoformat(job.start_at.replace("Z", "+00:00"))
    kbsync.table_jobs._clock = lambda: start + timedelta(minutes=25)  # three slots are due
    assert kbsync.table_jobs.tick() in (0, 1)  # the background tick may have claimed it
    wait_for_runs = kbsync.table_jobs._store.runs(job.id)
    assert [r.slot_at for r in wait_for_runs] == [iso_utc(start + timedelta(minutes=20))]
    kbsync.table_jobs.wait(wait_for_runs[0].id, WAIT)
    assert kbsync.table_jobs.tick() == 0  # the same moment: nothing more is due
    assert kbsync.table_jobs.get(job.id).next_slot_at == iso_utc(start + timedelta(minutes=30))
    assert len(kbsync.table_jobs._store.runs(job.id)) == 1


def test_a_run_whose_replica_stopped_is_finished_by_another(kbsync):
    """A run left `running` with an old heartbeat: the tick takes it up. With its ingestion job
    made, it ends as that job did (the watermark moved); without one, failed (kept)."""
    job = kbsync.table_jobs.create(body())
    done = run(kbsync, job.id)  # a real run, to borrow its ingestion job and watermark
    store = kbsync.table_jobs._store
    with kbsync.store.engine.begin() as connection:  # back to before that run
        connection.execute(sa.text("UPDATE table_jobs SET watermark = NULL"))
    old = iso_utc(datetime.now(UTC) - timedelta(minutes=5))
    left = replace(done, id="left-behind", slot_at=old, status=RUNNING, heartbeat_at=old,
                   finished_at=None, rows_sent=0, claimed_by="dead-replica")  # fmt: skip
    assert store.claim_run(left, record_skipped=False).status == RUNNING
    kbsync.table_jobs.tick()
    ended = kbsync.table_jobs.wait("left-behind", WAIT)
    assert (ended.status, ended.rows_sent, ended.claimed_by) == (
        "completed", SAMPLE_ROWS, kbsync.owner_id,
    )  # fmt: skip
    assert kbsync.table_jobs.get(job.id).watermark == done.watermark_after
    unsent = replace(left, id="never-sent", slot_at=iso_utc(datetime.now(UTC)),
                     ingestion_job_id=None)  # fmt: skip
    assert store.claim_run(unsent, record_skipped=False).status == RUNNING
    kbsync.table_jobs.tick()
    failed = kbsync.table_jobs.wait("never-sent", WAIT)
    assert failed.status == "failed" and "stopped before its rows were sent" in failed.error
    assert kbsync.table_jobs.get(job.id).running_run_id is None


def test_after_a_restart_the_empty_embedded_sandbox_gets_the_whole_table_again(fast_settings):
    """The embedded sandbox starts empty: a job's watermark would leave its table unread, so a
    restart forgets it and the next run loads every row again."""
    settings = replace(fast_settings, sandbox_speed=SPEED, ingest_rate=RATE)
    first = Kbsync.open(settings)
    try:
        job = first.table_jobs.create(body())
        assert run(first, job.id).rows_sent == SAMPLE_ROWS
        assert first.table_jobs.body(job.id)["watermark"] is not None
    finally:
        first.close()
    again = Kbsync.open(settings)
    try:
        assert again.table_jobs.body(job.id)["watermark"] is None
        reloaded = run(again, job.id)
        assert (reloaded.rows_read, reloaded.rows_sent) == (SAMPLE_ROWS, SAMPLE_ROWS)
    finally:
        again.close()
