"""Two kbsync replicas on one PostgreSQL database, as an operator runs kbsync behind a balancer.

Each replica is a real console (`streamlit run app.py`) with KBSYNC_BACKEND=aws against a sandbox
server of this module's own, so that its log of calls holds these tests' calls only. Every AWS
call of a replica carries `kbsync/<owner id>` in its User-Agent, the owner id being
`<hostname>-<pid>-<8 hex>`: the log says which replica (and which incarnation of it) made each.

The replicas have credentials of their own (KBSYNC_ALLOW_AMBIENT_CREDENTIALS and a key pair in
their environment), so a replica that dies mid-sync has its runs taken over by the other once
its lease (KBSYNC_LEASE_SECONDS) runs out.
"""

import threading
import time

import pytest

from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID
from tests.api.client import FINAL_STATUSES, JsonClient, wait_until
from tests.api.conftest import SandboxControl, history_body, sync_body
from tests.support.replicas import (
    LOG_TAKEN_OVER,
    REPLICA_LEASE_SECONDS,
    REPLICA_POLL_SECONDS,
    TAKEOVER_LIMIT_SECONDS,
    Replica,
    first_poll_by,
    owner_of,
    pid_of,
    polls_of,
    replica_consoles,
    tail,
)
from tests.support.servers import start_sandbox_server

LEASE_SECONDS = REPLICA_LEASE_SECONDS
POLL_SECONDS = REPLICA_POLL_SECONDS
# The lease keeper's turn: renewals and sweeps, RENEWALS_PER_LEASE times per lease period.
KEEPER_SECONDS = LEASE_SECONDS / 3
CONCURRENT_STARTS = 6

# The replicas' own identity (boto3's default chain reads it from the environment).
PROCESS_ACCESS_KEY_ID = "AKIAKBSYNCREPLICAENV"
PROCESS_SECRET_ACCESS_KEY = "replica-process-secret-0123456789abcdef"

LOG_RESUMING = "Reanudando la monitorización"


def sandbox_status(control: SandboxControl, job_id: str) -> str:
    return control.job(job_id)["status"]


def data_source_job_ids(control: SandboxControl) -> set[str]:
    summaries = control.agent.list_ingestion_jobs(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID,
        dataSourceId=SANDBOX_DATA_SOURCE_ID,
        maxResults=100,
    )["ingestionJobSummaries"]
    return {summary["ingestionJobId"] for summary in summaries}


def operator_keys(name: str) -> dict:
    """Keys of an operator's own, different in each test: the history cache (per data source
    and credentials) then reads AWS afresh, and the call log tells them from the replicas'."""
    return {
        "accessKeyId": f"AKIAREPLICAS{name.upper()}",
        "secretAccessKey": f"operator-{name}-secret-0123456789abcdef",
    }


def start_running_sync(replica: Replica, keys: dict) -> dict:
    """A sync started on `replica` whose job AWS has started (and which runs 17 s or more at
    the sandbox's speed 1, until the test finishes it)."""
    execution_id = replica.api.start_sync(sync_body(**keys))
    return replica.api.wait_for(
        execution_id, lambda execution: execution["status"] == "EN_EJECUCION"
    )


def is_ended(execution: dict) -> bool:
    return execution["status"] in FINAL_STATUSES and "finishedAt" in execution


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replica_sandbox(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("replicas-sandbox")
    with start_sandbox_server(log_dir, speed=1.0, name="replicas-sandbox") as running:
        yield running


@pytest.fixture(scope="module")
def control(replica_sandbox) -> SandboxControl:
    return SandboxControl(replica_sandbox.url)


@pytest.fixture(scope="module")
def replica_pair(tmp_path_factory, postgres_server, replica_sandbox):
    """Replicas A and B on one fresh PostgreSQL database, lending their own identity."""
    environment = {
        "KBSYNC_ALLOW_AMBIENT_CREDENTIALS": "true",
        "AWS_ACCESS_KEY_ID": PROCESS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": PROCESS_SECRET_ACCESS_KEY,
    }
    with replica_consoles(
        tmp_path_factory, postgres_server, replica_sandbox.url, environment
    ) as (_database_url, *servers):
        yield tuple(Replica(server) for server in servers)


@pytest.fixture
def replicas(replica_pair, control):
    """Both replicas up (a test that killed one gets it back), and the sandbox left clean."""
    for replica in replica_pair:
        if not replica.server.is_running():
            replica.server.start()
    yield replica_pair
    control.clear_faults()
    # Whatever a test left running would make the next one's StartIngestionJob a conflict.
    control.finish_running_jobs()
    # Shown only when the test failed.
    for replica in replica_pair:
        print(f"---- {replica.server.name} (last output) ----\n{tail(replica.server)}")


# -- the tests -------------------------------------------------------------------------------


def test_a_sync_started_on_one_replica_shows_at_once_on_the_other(replicas, control):
    a, b = replicas
    keys = operator_keys("shown")

    execution_id = a.api.start_sync(sync_body(**keys))
    seen = b.api.get("/api/sync", executionId=execution_id)

    assert seen.status == 200, (seen.status, seen.json)
    assert seen.json["id"] == execution_id
    assert seen.json["status"] in ("PENDIENTE", "EN_EJECUCION")
    job_id = b.api.wait_for(execution_id, lambda execution: execution["jobId"])["jobId"]

    history = b.api.post("/api/sync-history", history_body(**keys))

    assert history.status == 200, (history.status, history.json)
    rows = [
        (row["id"], row["source"], row["jobId"])
        for row in history.json["executions"]
        if row["id"] in (execution_id, f"aws-{job_id}") or row["jobId"] == job_id
    ]
    assert rows == [(execution_id, "LOCAL", job_id)]
    # B read AWS's listing for that history (so AWS's row of the job was there to merge).
    assert any(
        pid_of(call) == b.pid and call["accessKeyId"] == keys["accessKeyId"]
        for call in control.calls("ListIngestionJobs")
    )
    # A works it: the replica that started it, and only that one, polls its job.
    first_poll_by(control, job_id, a, since=0.0, timeout=10)
    assert {pid_of(call) for call in polls_of(control, job_id)} == {a.pid}

    control.finish_running_jobs()
    ended = b.api.wait_until_final(execution_id)
    assert ended["status"] == "COMPLETADO"
    assert a.api.execution(execution_id) == ended


def test_concurrent_starts_on_both_replicas_start_one_job(replicas, control):
    a, b = replicas
    keys = operator_keys("race")
    jobs_before = data_source_job_ids(control)
    calls_since = time.time()
    barrier = threading.Barrier(CONCURRENT_STARTS)
    replies: list = [None] * CONCURRENT_STARTS

    def start(index: int) -> None:
        client = JsonClient((a if index % 2 == 0 else b).server.url)
        body = sync_body(description=f"Carrera {index}", **keys)
        barrier.wait(timeout=15)
        replies[index] = client.post("/api/sync", body)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(CONCURRENT_STARTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [reply.status if reply else None for reply in replies] == [202] * CONCURRENT_STARTS
    execution_ids = [reply.json["executionId"] for reply in replies]
    assert len(set(execution_ids)) == CONCURRENT_STARTS
    settled = {
        execution_id: a.api.wait_for(
            execution_id, lambda execution: execution["jobId"] or is_ended(execution)
        )
        for execution_id in execution_ids
    }
    winners = [execution for execution in settled.values() if execution["jobId"]]
    assert len(winners) == 1, settled
    job_id = winners[0]["jobId"]
    assert winners[0]["status"] == "EN_EJECUCION"
    for execution in settled.values():
        if execution is winners[0]:
            continue
        assert (execution["status"], execution["conflictJobId"]) == ("FALLIDO", job_id), execution
    assert data_source_job_ids(control) - jobs_before == {job_id}
    tokens = [
        call["parameters"].get("clientToken")
        for call in control.calls("StartIngestionJob")
        if call["at"] >= calls_since
    ]
    for execution_id in execution_ids:
        assert tokens.count(f"kbsync-{execution_id}") <= 1, (execution_id, tokens)

    control.finish_running_jobs()
    for execution_id in execution_ids:
        ended = a.api.wait_until_final(execution_id)
        assert b.api.execution(execution_id) == ended
    assert a.api.execution(winners[0]["id"])["status"] == "COMPLETADO"


def test_a_killed_replica_s_sync_is_taken_over_by_the_other_alone(replicas, control):
    a, b = replicas
    running = start_running_sync(a, operator_keys("killed"))
    execution_id, job_id = running["id"], running["jobId"]
    first_poll_by(control, job_id, a, since=0.0, timeout=10)

    killed_at = time.time()
    a.server.kill()
    dead_at = time.time()  # from here on, A can send nothing more
    first = first_poll_by(control, job_id, b, since=killed_at, timeout=TAKEOVER_LIMIT_SECONDS + 10)

    takeover_seconds = first["at"] - killed_at
    print(f"takeover: B's first GetIngestionJob {takeover_seconds:.2f} s after the kill")
    assert takeover_seconds <= TAKEOVER_LIMIT_SECONDS, tail(b.server)
    # With B's own identity: the operator's keys died with A.
    assert first["accessKeyId"] == PROCESS_ACCESS_KEY_ID
    taken = b.api.wait_for(
        execution_id, lambda execution: any(LOG_TAKEN_OVER in line for line in execution["logs"])
    )
    assert taken["status"] == "EN_EJECUCION"
    b_owner = owner_of(first)

    a.server.start()
    restarted_at = time.time()
    # Two of the restarted A's sweeps, while the job still runs and B holds its lease.
    time.sleep(2 * KEEPER_SECONDS + 0.3)
    watched_until = time.time()

    after_takeover = polls_of(control, job_id, since=first["at"])
    assert {owner_of(call) for call in after_takeover} == {b_owner}
    # One watcher in B too: it waits POLL_SECONDS after each poll, so no more polls than that.
    window = watched_until - first["at"]
    assert len(after_takeover) <= window / POLL_SECONDS + 2, (len(after_takeover), window)
    assert sandbox_status(control, job_id) in ("STARTING", "IN_PROGRESS")

    control.finish_running_jobs()
    ended = b.api.wait_until_final(execution_id)

    assert ended["status"] == "COMPLETADO"
    assert ended["logs"][: len(running["logs"])] == running["logs"]
    assert sum(LOG_RESUMING in line for line in ended["logs"]) == 1, ended["logs"]
    assert a.api.execution(execution_id) == ended
    assert {owner_of(call) for call in polls_of(control, job_id, since=dead_at)} == {b_owner}
    assert not [c for c in polls_of(control, job_id, restarted_at) if pid_of(c) == a.pid]


def test_a_stop_survives_the_kill_of_the_replica_that_answered_it(replicas, control):
    a, b = replicas
    running = start_running_sync(a, operator_keys("stopkill"))
    execution_id, job_id = running["id"], running["jobId"]
    first_poll_by(control, job_id, a, since=0.0, timeout=10)
    # Whatever StopIngestionJob A may send before it dies is lost on the way (closed without
    # the work done), so the job can only stop if B honours the stop request it finds.
    control.inject_fault(
        operation="StopIngestionJob", closeConnection=True, latencySeconds=1.0, count=1
    )

    reply = a.api.post("/api/sync/stop", {"executionId": execution_id})
    killed_at = time.time()
    a.server.kill()

    assert reply.status == 202, (reply.status, reply.json)
    first = first_poll_by(control, job_id, b, since=killed_at, timeout=TAKEOVER_LIMIT_SECONDS + 10)
    print(f"takeover after a stop: {first['at'] - killed_at:.2f} s after the kill")
    wait_until(
        lambda: sandbox_status(control, job_id) == "STOPPING",
        timeout=15,
        what=f"the job stopping; B's output:\n{tail(b.server)}",
    )
    stops_by_b = [call for call in control.calls("StopIngestionJob") if pid_of(call) == b.pid]
    assert stops_by_b, control.calls("StopIngestionJob")
    assert all(call["parameters"].get("ingestionJobId") == job_id for call in stops_by_b)

    control.finish_running_jobs()  # STOPPING lasts 4 simulated seconds
    ended = b.api.wait_until_final(execution_id)

    assert ended["status"] == "DETENIDO"
    assert any(LOG_TAKEN_OVER in line for line in ended["logs"])
    assert sandbox_status(control, job_id) == "STOPPED"
