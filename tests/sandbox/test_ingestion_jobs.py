"""Ingestion jobs through real boto3 clients: lifecycle, real counts, stop, conflicts, lists."""

import threading
import time

import pytest
from botocore.exceptions import ClientError

from kbsync_sandbox import (
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_FAILING_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
)

from .conftest import NO_RETRIES, make_client

HANDBOOK_DOCUMENTS = 20
HANDBOOK_SIDECARS = 6
STATISTICS = (
    "numberOfDocumentsScanned",
    "numberOfMetadataDocumentsScanned",
    "numberOfNewDocumentsIndexed",
    "numberOfModifiedDocumentsIndexed",
    "numberOfMetadataDocumentsModified",
    "numberOfDocumentsDeleted",
    "numberOfDocumentsFailed",
)
TOKEN = "kbsync-retry-token-0123456789abcdef0123"


def start(agent, data_source_id=SANDBOX_DATA_SOURCE_ID, **params):
    return agent.start_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=data_source_id, **params
    )["ingestionJob"]


def get(agent, job):
    return agent.get_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID,
        dataSourceId=job["dataSourceId"],
        ingestionJobId=job["ingestionJobId"],
    )["ingestionJob"]


def sync(sb, agent, data_source_id=SANDBOX_DATA_SOURCE_ID):
    """Run a whole sync at once and return the finished job."""
    job = start(agent, data_source_id)
    sb.finish_running_jobs()
    return get(agent, job)


def counts(**nonzero):
    return {name: nonzero.get(name, 0) for name in STATISTICS}


def error_code(raised):
    return raised.value.response["Error"]["Code"]


def test_a_sync_goes_starting_in_progress_complete_with_statistics_growing(sb, agent):
    sb.speed = 60  # about 0.6 s in progress: enough polls to watch the counters grow
    job = start(agent, description="first sync")
    assert job["status"] == "STARTING"
    assert job["description"] == "first sync"
    assert job["statistics"] == counts()

    seen = []
    deadline = time.monotonic() + 10
    while job["status"] != "COMPLETE" and time.monotonic() < deadline:
        time.sleep(0.01)
        job = get(agent, job)
        seen.append((job["status"], job["statistics"]["numberOfDocumentsScanned"]))

    statuses = [status for status, _ in seen]
    assert statuses == sorted(statuses, key=["STARTING", "IN_PROGRESS", "COMPLETE"].index)
    scanned_while_running = [scanned for status, scanned in seen if status == "IN_PROGRESS"]
    assert scanned_while_running == sorted(scanned_while_running)
    assert len({s for s in scanned_while_running if 0 < s < HANDBOOK_DOCUMENTS}) >= 2
    assert job["status"] == "COMPLETE"
    assert job["statistics"] == counts(
        numberOfDocumentsScanned=HANDBOOK_DOCUMENTS,
        numberOfMetadataDocumentsScanned=HANDBOOK_SIDECARS,
        numberOfNewDocumentsIndexed=HANDBOOK_DOCUMENTS,
    )
    assert "failureReasons" not in job
    assert job["startedAt"] <= job["updatedAt"]


def test_syncs_are_incremental_against_the_last_successful_sync(sb, agent, s3):
    bucket = bucket_of(agent, SANDBOX_DATA_SOURCE_ID)
    assert sync(sb, agent)["statistics"]["numberOfNewDocumentsIndexed"] == HANDBOOK_DOCUMENTS

    unchanged = sync(sb, agent)
    assert unchanged["status"] == "COMPLETE"
    assert unchanged["statistics"] == counts(
        numberOfDocumentsScanned=HANDBOOK_DOCUMENTS,
        numberOfMetadataDocumentsScanned=HANDBOOK_SIDECARS,
    )

    s3.put_object(Bucket=bucket, Key="runbooks/dns-outage.md", Body=b"# DNS outage\n\nSteps.")
    s3.put_object(Bucket=bucket, Key="oncall/rotation.md", Body=b"# On-call rotation\n\nNew.")
    s3.delete_object(Bucket=bucket, Key="capacity/cost-review.md")
    s3.put_object(
        Bucket=bucket,
        Key="runbooks/disk-full.md.metadata.json",
        Body=b'{"metadataAttributes": {"team": "platform"}}',
    )
    s3.put_object(
        Bucket=bucket,
        Key="deployments/rollback.md.metadata.json",
        Body=b'{"metadataAttributes": {"category": "runbook"}}',
    )
    changed = sync(sb, agent)
    assert changed["statistics"] == counts(
        numberOfDocumentsScanned=HANDBOOK_DOCUMENTS,  # one added, one deleted
        numberOfMetadataDocumentsScanned=HANDBOOK_SIDECARS + 1,
        numberOfNewDocumentsIndexed=1,
        numberOfModifiedDocumentsIndexed=1,
        numberOfMetadataDocumentsModified=2,
        numberOfDocumentsDeleted=1,
    )


def test_a_failed_sync_is_not_the_baseline_of_the_next_one(sb, agent, s3):
    bucket = bucket_of(agent, SANDBOX_DATA_SOURCE_ID)
    sync(sb, agent)
    s3.put_object(Bucket=bucket, Key="oncall/rotation.md", Body=b"# Rotation\n\nEdited.")
    s3.put_object(Bucket=bucket, Key="diagrams/topology.vsdx", Body=b"binary")

    failed = sync(sb, agent)
    assert failed["status"] == "FAILED"
    assert failed["statistics"]["numberOfDocumentsFailed"] == 1
    assert failed["statistics"]["numberOfModifiedDocumentsIndexed"] == 1
    assert len(failed["failureReasons"]) == 1
    assert f"s3://{bucket}/diagrams/topology.vsdx" in failed["failureReasons"][0]

    s3.delete_object(Bucket=bucket, Key="diagrams/topology.vsdx")
    retried = sync(sb, agent)
    assert retried["status"] == "COMPLETE"
    assert retried["statistics"]["numberOfModifiedDocumentsIndexed"] == 1


def test_the_failing_data_source_ends_failed_with_reasons(sb, agent):
    job = sync(sb, agent, SANDBOX_FAILING_DATA_SOURCE_ID)
    assert job["status"] == "FAILED"
    assert job["statistics"]["numberOfDocumentsFailed"] == 3
    assert job["statistics"]["numberOfNewDocumentsIndexed"] == 3
    reasons = " ".join(job["failureReasons"])
    assert len(job["failureReasons"]) == 3
    assert "recordings/escalation-call-2024-11-03.mp4" in reasons
    assert "not a valid PDF" in reasons
    assert "faq/pricing.md.metadata.json is not valid JSON" in reasons


def test_an_oversized_document_fails(sb, agent, s3, monkeypatch):
    monkeypatch.setattr("kbsync_sandbox.scan.MAX_DOCUMENT_BYTES", 1024)
    bucket = sb.add_data_source("EXTRADS001", {"big.md": b"x" * 2048, "small.md": b"ok"})
    job = sync(sb, agent, "EXTRADS001")
    assert job["status"] == "FAILED"
    assert job["statistics"]["numberOfDocumentsFailed"] == 1
    (reason,) = job["failureReasons"]
    assert f"s3://{bucket}/big.md" in reason
    assert "exceeds the maximum file size" in reason


def test_stop_goes_stopping_then_stopped_and_freezes_statistics(sb, agent):
    sb.speed = 50
    job = start(agent)
    # Slow the clock down as soon as the scan has begun: a fixed sleep overshot the ~10
    # simulated seconds of scanning (0.2 s of real time) on a busy machine.
    deadline = time.monotonic() + 10
    while not get(agent, job)["statistics"]["numberOfDocumentsScanned"]:
        assert time.monotonic() < deadline, "the scan never began"
        time.sleep(0.005)
    sb.speed = 1
    stopped = agent.stop_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID,
        dataSourceId=SANDBOX_DATA_SOURCE_ID,
        ingestionJobId=job["ingestionJobId"],
    )["ingestionJob"]
    assert stopped["status"] == "STOPPING"
    frozen = stopped["statistics"]
    assert 0 < frozen["numberOfDocumentsScanned"] < HANDBOOK_DOCUMENTS
    assert get(agent, job)["status"] == "STOPPING"

    sb.finish_running_jobs()
    final = get(agent, job)
    assert final["status"] == "STOPPED"
    assert final["statistics"] == frozen
    with pytest.raises(ClientError) as raised:
        agent.stop_ingestion_job(
            knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID,
            dataSourceId=SANDBOX_DATA_SOURCE_ID,
            ingestionJobId=job["ingestionJobId"],
        )
    assert error_code(raised) == "ConflictException"
    assert "STOPPED" in raised.value.response["Error"]["Message"]
    # A stopped sync is no baseline: the next one indexes everything again.
    assert sync(sb, agent)["statistics"]["numberOfNewDocumentsIndexed"] == HANDBOOK_DOCUMENTS


def test_a_second_start_on_a_running_data_source_conflicts_naming_the_running_job(sb, agent):
    sb.speed = 1
    running = start(agent)
    with pytest.raises(ClientError) as raised:
        start(agent)
    assert error_code(raised) == "ConflictException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert running["ingestionJobId"] in raised.value.response["Error"]["Message"]
    # Another data source is not blocked.
    assert start(agent, SANDBOX_FAILING_DATA_SOURCE_ID)["status"] == "STARTING"


def test_more_than_five_running_jobs_exceed_the_quota(sb, agent):
    sb.speed = 1
    extra = [f"EXTRADS00{n}" for n in range(1, 5)]
    for data_source_id in extra:
        sb.add_data_source(data_source_id, {"doc.md": b"# A document"})
    for data_source_id in [SANDBOX_DATA_SOURCE_ID, SANDBOX_FAILING_DATA_SOURCE_ID, *extra[:3]]:
        start(agent, data_source_id)
    with pytest.raises(ClientError) as raised:
        start(agent, extra[3])
    assert error_code(raised) == "ServiceQuotaExceededException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402

    sb.finish_running_jobs()
    assert start(agent, extra[3])["status"] == "STARTING"


def test_a_repeated_client_token_returns_the_same_job(sb, agent):
    sb.speed = 1
    first = start(agent, clientToken=TOKEN)
    again = start(agent, clientToken=TOKEN)
    assert again["ingestionJobId"] == first["ingestionJobId"]
    assert len(list_jobs(agent)) == 1

    sb.finish_running_jobs()
    after_the_end = start(agent, clientToken=TOKEN)
    assert after_the_end["ingestionJobId"] == first["ingestionJobId"]
    assert after_the_end["status"] == "COMPLETE"
    # The token belongs to its data source.
    other = start(agent, SANDBOX_FAILING_DATA_SOURCE_ID, clientToken=TOKEN)
    assert other["ingestionJobId"] != first["ingestionJobId"]


def test_concurrent_starts_from_many_threads_start_exactly_one_job(sb):
    sb.speed = 1
    outcomes = []

    def start_from_a_new_client():
        client = make_client("bedrock-agent", config=NO_RETRIES)
        try:
            outcomes.append(start(client)["ingestionJobId"])
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=start_from_a_new_client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ConflictException") == 7
    assert len([call for call in sb.calls if call[0] == "StartIngestionJob"]) == 8


def list_jobs(agent, data_source_id=SANDBOX_DATA_SOURCE_ID, **params):
    return agent.list_ingestion_jobs(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=data_source_id, **params
    )["ingestionJobSummaries"]


def bucket_of(agent, data_source_id):
    data_source = agent.get_data_source(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=data_source_id
    )["dataSource"]
    return data_source["dataSourceConfiguration"]["s3Configuration"]["bucketArn"].split(":::")[1]


@pytest.fixture
def three_jobs(sb, agent):
    """Two finished syncs and a running one, oldest first."""
    oldest, middle = sync(sb, agent), sync(sb, agent)
    sb.speed = 1
    return [oldest, middle, start(agent)]


def ids(summaries):
    return [summary["ingestionJobId"] for summary in summaries]


def test_list_defaults_to_newest_first(agent, three_jobs):
    summaries = list_jobs(agent)
    assert ids(summaries) == ids(reversed(three_jobs))
    assert [s["status"] for s in summaries] == ["STARTING", "COMPLETE", "COMPLETE"]
    assert all("failureReasons" not in summary for summary in summaries)


def test_list_sorts_by_start_or_status(agent, three_jobs):
    by_start = list_jobs(agent, sortBy={"attribute": "STARTED_AT", "order": "ASCENDING"})
    assert ids(by_start) == ids(three_jobs)
    by_status = list_jobs(agent, sortBy={"attribute": "STATUS", "order": "DESCENDING"})
    assert [s["status"] for s in by_status] == ["STARTING", "COMPLETE", "COMPLETE"]


def test_list_filters_by_status(agent, three_jobs):
    status_filter = {"attribute": "STATUS", "operator": "EQ", "values": ["COMPLETE"]}
    complete = list_jobs(agent, filters=[status_filter])
    assert ids(complete) == ids(reversed(three_jobs[:2]))
    nothing = {"attribute": "STATUS", "operator": "EQ", "values": ["FAILED"]}
    assert list_jobs(agent, filters=[nothing]) == []


def test_the_botocore_paginator_walks_every_page(agent, three_jobs):
    paginator = agent.get_paginator("list_ingestion_jobs")
    pages = list(
        paginator.paginate(
            knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID,
            dataSourceId=SANDBOX_DATA_SOURCE_ID,
            sortBy={"attribute": "STARTED_AT", "order": "ASCENDING"},
            PaginationConfig={"PageSize": 2},
        )
    )
    assert [len(page["ingestionJobSummaries"]) for page in pages] == [2, 1]
    assert "nextToken" in pages[0]
    assert "nextToken" not in pages[1]
    assert ids(s for page in pages for s in page["ingestionJobSummaries"]) == ids(three_jobs)


def test_speed_divides_durations_and_can_change_mid_job(sb, agent):
    sb.speed = 1
    job = start(agent)
    time.sleep(0.1)
    assert get(agent, job)["status"] == "STARTING"  # 3 s to go at speed 1

    sb.speed = 2000  # the ~37 simulated seconds left now take ~20 ms
    time.sleep(0.1)
    finished = get(agent, job)
    assert finished["status"] == "COMPLETE"
    # Timestamps are real times, not simulated ones.
    assert (finished["updatedAt"] - finished["startedAt"]).total_seconds() < 5
