"""History read through the sandbox: AWS's jobs, local executions, one row per sync."""

import threading
import time

import pytest

from kbsync_core.history import (
    MAX_CACHED_HISTORIES,
    MAX_REMEMBERED_FAILURE_REASONS,
    HistoryService,
)
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.store import ExecutionStore
from kbsync_core.sync import SyncEngine
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


class FakeBedrockAgent:
    """bedrock-agent's two reads the history makes, counted, with one job each."""

    def __init__(self, calls: list[str], delay: float = 0.0):
        self.calls = calls
        self.delay = delay

    def get_paginator(self, _name):
        return self

    def paginate(self, **_params):
        self.calls.append("ListIngestionJobs")
        time.sleep(self.delay)
        summary = {
            "ingestionJobId": "JOB0000001", "status": "COMPLETE", "statistics": {},
            "startedAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:01:00Z",
        }
        return [{"ingestionJobSummaries": [summary]}]

    def get_ingestion_job(self, **params):
        self.calls.append("GetIngestionJob")
        return {"ingestionJob": {"failureReasons": [f"{params['ingestionJobId']} failed"]}}


class FakeClients:
    """AwsClients' one method, answering with FakeBedrockAgent: 1,500 real clients (a botocore
    client per key set) would take minutes to build, and only the cache is under test."""

    def __init__(self, delay: float = 0.0):
        self.calls: list[str] = []
        self.delay = delay

    def bedrock_agent(self, _credentials, _region):
        return FakeBedrockAgent(self.calls, self.delay)


def key_set(number: int) -> AwsCredentials:
    return AwsCredentials.from_keys(f"AKIAROTATED{number:09d}", f"rotated-secret-{number}")


KEY_SETS = 1500


def test_1500_key_sets_leave_a_bounded_cache_and_no_locks_behind(engine):
    clients = FakeClients()
    history = HistoryService(engine, clients, ttl_seconds=15, clock=FakeClock())
    for number in range(KEY_SETS):
        history.aws_jobs(HistoryRequest(TARGET, key_set(number), 30))
    assert clients.calls.count("ListIngestionJobs") == KEY_SETS
    assert len(history._cache) <= MAX_CACHED_HISTORIES
    assert len(history._key_locks) <= MAX_CACHED_HISTORIES
    assert not history._key_locks  # nobody reads now: no lock is kept

    # The most recently used are still served from the cache; the oldest went.
    history.aws_jobs(HistoryRequest(TARGET, key_set(KEY_SETS - 1), 30))
    assert clients.calls.count("ListIngestionJobs") == KEY_SETS
    history.aws_jobs(HistoryRequest(TARGET, key_set(0), 30))
    assert clients.calls.count("ListIngestionJobs") == KEY_SETS + 1


def test_answers_past_their_ttl_are_dropped(engine):
    clock = FakeClock()
    history = HistoryService(engine, FakeClients(), ttl_seconds=15, clock=clock)
    for number in range(3):
        history.aws_jobs(HistoryRequest(TARGET, key_set(number), 30))
    assert len(history._cache) == 3
    clock.now += 15
    history.aws_jobs(HistoryRequest(TARGET, key_set(3), 30))
    assert len(history._cache) == 1


def test_concurrent_readers_of_many_keys_make_one_aws_call_per_key(engine):
    clients = FakeClients(delay=0.05)  # long enough for every reader of a key to wait
    history = HistoryService(engine, clients, ttl_seconds=15, clock=FakeClock())
    keys, readers_per_key = 40, 5
    start = threading.Barrier(keys * readers_per_key)

    def read(number: int) -> None:
        start.wait()
        history.aws_jobs(HistoryRequest(TARGET, key_set(number), 30))

    readers = [
        threading.Thread(target=read, args=(number,))
        for number in range(keys) for _ in range(readers_per_key)
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert clients.calls.count("ListIngestionJobs") == keys
    assert not history._key_locks


def test_remembered_failure_reasons_are_bounded(engine):
    clients = FakeClients()
    history = HistoryService(engine, clients)
    request = HistoryRequest(TARGET, CREDENTIALS, 30)

    def row(number: int) -> dict:
        return {"status": "FALLIDO", "source": "AWS", "jobId": f"JOB{number:07d}"}

    for number in range(KEY_SETS):
        assert history.failure_reasons(request, row(number)) == [f"JOB{number:07d} failed"]
    assert len(history._failure_reasons) <= MAX_REMEMBERED_FAILURE_REASONS
    history.failure_reasons(request, row(KEY_SETS - 1))  # the newest: still remembered
    assert clients.calls.count("GetIngestionJob") == KEY_SETS


def test_the_consoles_read_keeps_max_results_syncs_and_local_rows_stay_when_aws_refuses(
    engine, sandboxed
):
    from kbsync_core.errors import AwsRequestError
    from kbsync_core.history_table import is_sync
    from kbsync_core.models import Execution, ExecutionStatus

    for number in range(3):
        engine.wait(engine.start_sync(SyncRequest(TARGET, CREDENTIALS, f"sync {number}")).id, 30)
    for number in range(5):  # newer attempts AWS refused: no job
        engine.store.add(Execution(
            id=f"refused-{number}", target=TARGET, description="refused",
            status=ExecutionStatus.FALLIDO, started_at=f"2099-01-01T00:00:0{number}.000Z",
        ))
    history = HistoryService(engine, engine.clients)
    request = HistoryRequest(TARGET, CREDENTIALS, 3)
    assert [row["status"] for row in history.read(request)] == ["FALLIDO"] * 3  # the API's
    kept = history.read(request, keep=is_sync)
    assert [row["description"] for row in kept] == ["sync 2", "sync 1", "sync 0"]

    denied = HistoryRequest(TARGET, AwsCredentials.from_keys("AKIADENIEDEXAMPLE123", "x"), 3)
    with pytest.raises(AwsRequestError):
        history.read(denied, keep=is_sync)
    assert history.read_local(denied, keep=is_sync) == kept


def test_a_live_reader_asks_aws_again_after_max_age(engine, sandboxed):
    clock = FakeClock()
    history = HistoryService(engine, engine.clients, ttl_seconds=15, clock=clock)
    request = HistoryRequest(TARGET, CREDENTIALS, 30)
    history.read(request)
    clock.now += 9
    history.read(request, max_age=10)
    assert list_calls(sandboxed) == 1
    clock.now += 2
    history.read(request, max_age=10)
    assert list_calls(sandboxed) == 2
    history.read(request)  # the answer just read serves everyone
    assert list_calls(sandboxed) == 2
