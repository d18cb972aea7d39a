"""History read through the sandbox: AWS's jobs, local executions, one row per sync."""

import threading

import pytest

from kbsync_core.engine import SyncEngine
from kbsync_core.history import HistoryService
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.store import ExecutionStore
from kbsync_core.validation import HistoryRequest, SyncRequest
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION

TARGET = SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID)
CREDENTIALS = AwsCredentials.from_keys("AKIAKBSYNCTESTKEY001", "secret")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def engine(sandboxed, fast_settings):
    store = ExecutionStore("sqlite://")
    engine = SyncEngine(fast_settings, store)
    yield engine
    engine.close()
    store.close()


def list_calls(sandboxed):
    return sum(1 for name, _params in sandboxed.calls if name == "ListIngestionJobs")


def test_local_and_aws_syncs_show_once_each_newest_first(engine, sandboxed):
    outside = engine.clients.bedrock_agent(CREDENTIALS, SANDBOX_REGION)
    aws_only = outside.start_ingestion_job(
        knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=TARGET.data_source_id
    )["ingestionJob"]["ingestionJobId"]
    sandboxed.finish_running_jobs()
    local = engine.start_sync(SyncRequest(TARGET, CREDENTIALS, "from kbsync"))
    local = engine.wait(local.id, 30)

    rows = HistoryService(engine, engine.clients).read(HistoryRequest(TARGET, CREDENTIALS, 30))
    assert [row["id"] for row in rows] == [local.id, f"aws-{aws_only}"]
    assert [row["source"] for row in rows] == ["LOCAL", "AWS"]
    assert rows[0]["logs"] == local.logs
    assert rows[1]["status"] == "COMPLETADO"


def test_max_results_caps_the_rows(engine, sandboxed):
    client = engine.clients.bedrock_agent(CREDENTIALS, SANDBOX_REGION)
    for _ in range(4):
        client.start_ingestion_job(
            knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId=TARGET.data_source_id
        )
        sandboxed.finish_running_jobs()
    rows = HistoryService(engine, engine.clients).read(HistoryRequest(TARGET, CREDENTIALS, 3))
    assert len(rows) == 3
    assert rows == sorted(rows, key=lambda row: row["startedAt"], reverse=True)


def test_aws_is_read_at_most_once_per_ttl_whoever_asks(engine, sandboxed):
    clock = FakeClock()
    history = HistoryService(engine, engine.clients, ttl_seconds=15, clock=clock)
    request = HistoryRequest(TARGET, CREDENTIALS, 30)

    readers = [threading.Thread(target=history.read, args=(request,)) for _ in range(6)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert list_calls(sandboxed) == 1

    clock.now += 14
    history.read(request)
    assert list_calls(sandboxed) == 1
    clock.now += 2
    history.read(request)
    assert list_calls(sandboxed) == 2
    history.read(request, refresh=True)
    assert list_calls(sandboxed) == 3
    history.read(HistoryRequest(TARGET, CREDENTIALS, 5))  # another page size, same answer
    assert list_calls(sandboxed) == 3
    other = AwsCredentials.from_keys("AKIAKBSYNCTESTKEY002", "another")
    history.read(HistoryRequest(TARGET, other, 30))
    assert list_calls(sandboxed) == 4


def test_an_aws_jobs_failure_reasons_are_asked_for_once(engine, sandboxed):
    client = engine.clients.bedrock_agent(CREDENTIALS, SANDBOX_REGION)
    client.start_ingestion_job(knowledgeBaseId=TARGET.knowledge_base_id, dataSourceId="SANDBOXDS2")
    sandboxed.finish_running_jobs()
    failing = HistoryRequest(
        SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, "SANDBOXDS2"), CREDENTIALS, 30
    )
    history = HistoryService(engine, engine.clients)
    [row] = history.read(failing)
    reasons = history.failure_reasons(failing, row)
    assert reasons
    assert history.failure_reasons(failing, row) == reasons
    gets = [name for name, _params in sandboxed.calls if name == "GetIngestionJob"]
    assert len(gets) == 1
