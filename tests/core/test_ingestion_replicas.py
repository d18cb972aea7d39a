"""An ingestion job whose replica is killed with SIGKILL mid-job is resumed by another replica on
the same PostgreSQL database, and no record is sent twice: counted on the sandbox server, which
outlives them both (every IngestKnowledgeBaseDocuments it received, and how many times each
document was ingested)."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from kbsync_core.config import Settings
from kbsync_core.runtime import Kbsync
from kbsync_sandbox import SANDBOX_CUSTOM_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID
from tests.api.client import JsonClient
from tests.support.servers import clean_environment, start_sandbox_server
from tests.support.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDS = 200
LEASE_SECONDS = 2
# Slow enough that the job is mid-way when the first replica is killed: ~2 s of batches.
RATE = 20
SPEED = 20
KILL_AFTER_BATCHES = 4
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIAKBSYNCINGESTREPL",
    "AWS_SECRET_ACCESS_KEY": "ingest-replica-secret-0123456789abcdef",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}

# Replica A: opens kbsync on the database, makes the connection, starts the job, says its id.
FIRST_REPLICA = """
import json, sys, time
from kbsync_core.config import load_settings
from kbsync_core.runtime import Kbsync

kbsync = Kbsync.open(load_settings())
kbsync.connections.create({
    "id": "custom", "name": "custom", "region": "us-east-1",
    "knowledgeBaseId": sys.argv[1], "dataSourceId": sys.argv[2],
    "credentials": {"type": "default"},
})
records = [{"id": f"doc-{n}", "content": f"Record {n}"} for n in range(int(sys.argv[3]))]
job = kbsync.ingestion.create("custom", "generic-json", {"records": records})
print(json.dumps({"job": job.id}), flush=True)
time.sleep(600)
"""


@pytest.fixture
def sandbox_server(tmp_path):
    server = start_sandbox_server(tmp_path / "sandbox", speed=SPEED)
    yield server
    server.stop()


def ingest_calls(control: JsonClient) -> list[dict]:
    reply = control.get("/_kbsync_sandbox/calls", operation="IngestKnowledgeBaseDocuments")
    return reply.json["calls"]


def test_a_job_killed_mid_way_is_resumed_by_another_replica_sending_nothing_twice(
    postgres_url, sandbox_server, tmp_path, monkeypatch
):
    environment = {
        **AWS_ENVIRONMENT,
        "KBSYNC_BACKEND": "aws",
        "KBSYNC_DATABASE_URL": postgres_url,
        "KBSYNC_LEASE_SECONDS": str(LEASE_SECONDS),
        "KBSYNC_POLL_SECONDS": "0.1",
        "KBSYNC_INGEST_RATE": str(RATE),
        "AWS_ENDPOINT_URL_BEDROCK_AGENT": sandbox_server.url,
    }
    control = JsonClient(sandbox_server.url)
    first = subprocess.Popen(
        [sys.executable, "-c", FIRST_REPLICA, SANDBOX_KNOWLEDGE_BASE_ID,
         SANDBOX_CUSTOM_DATA_SOURCE_ID, str(RECORDS)],
        cwd=REPO_ROOT, env=clean_environment(environment), stdout=subprocess.PIPE,
        stderr=open(tmp_path / "first.log", "w"), text=True,  # noqa: SIM115 - the child's
    )  # fmt: skip
    try:
        job_id = json.loads(first.stdout.readline())["job"]
        wait_for(lambda: len(ingest_calls(control)) >= KILL_AFTER_BATCHES, timeout=30)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    sent_by_first = len(ingest_calls(control))
    assert sent_by_first < RECORDS // 10  # killed mid-way

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    killed_at = time.monotonic()
    second = Kbsync.open(
        Settings(
            backend="aws", database_url=postgres_url, lease_seconds=LEASE_SECONDS,
            poll_seconds=0.1, ingest_rate=RATE,
        )
    )  # fmt: skip
    try:
        wait_for(lambda: second.coordinator.worker(job_id) is not None, timeout=3 * LEASE_SECONDS)
        took_over_after = time.monotonic() - killed_at
        job = second.ingestion.wait(job_id, 60)
        body = second.ingestion.get(job_id)
    finally:
        second.close()

    assert job.status == "completed", job.error
    assert body["data"]["progress"] == {
        "processed": RECORDS, "total": RECORDS, "successful": RECORDS, "failed": 0, "skipped": 0,
    }  # fmt: skip
    assert took_over_after < 3 * LEASE_SECONDS
    # No record sent twice: every batch has one token and one composition, resent (if its
    # answer was lost with the replica) only with that token; each document ingested once.
    batches: dict[str, set] = defaultdict(set)
    for call in ingest_calls(control):
        ids = tuple(d["content"]["custom"]["customDocumentIdentifier"]["id"]
                    for d in call["parameters"]["documents"])  # fmt: skip
        batches[call["parameters"]["clientToken"]].add(ids)
    assert all(len(compositions) == 1 for compositions in batches.values())
    sent = [doc_id for compositions in batches.values() for ids in compositions for doc_id in ids]
    assert sorted(sent) == sorted(f"doc-{n}" for n in range(RECORDS))
    documents = control.get(
        "/_kbsync_sandbox/documents", dataSourceId=SANDBOX_CUSTOM_DATA_SOURCE_ID
    ).json["documents"]
    assert len(documents) == RECORDS
    assert {document["ingestions"] for document in documents} == {1}
    # Twenty batches; at most the one in flight at the kill was sent a second time.
    assert len(ingest_calls(control)) <= RECORDS // 10 + 1
