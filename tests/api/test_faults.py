"""AWS misbehaving under a running sync: faults injected with the sandbox server's switch.

Each test runs kbsync with KBSYNC_BACKEND=aws against the sandbox server (one attempt per AWS
call, so that what is tested is kbsync's own retry, not botocore's), injects one fault with
POST /_kbsync_sandbox/faults, and checks what an operator or a seed-000 client sees: GET
/api/sync, POST /api/sync-history, and the jobs and calls AWS (the sandbox) has. Every one of
these ended FALLIDO on the previous release while AWS finished the job.
"""

import re
import uuid

import pytest

from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID
from tests.api.client import wait_until
from tests.api.conftest import history_body, sync_body

LOG_POLL_RETRY = "Error transitorio al consultar el estado"
LOG_START_RETRY = "Error transitorio al iniciar el Ingestion Job"
LOG_INTERRUPTED = "ningún proceso de kbsync tiene credenciales para seguirla"
LOG_RESUMED = "Reanudando la monitorización."
AWS_RUNNING = ("STARTING", "IN_PROGRESS")
USER_AGENT_REPLICA = re.compile(r"kbsync/(\S+)")


def keys(name: str) -> dict:
    """Keys of this test's own: the console caches AWS history per credentials for 15 s."""
    return {
        "accessKeyId": f"AKIAKBSYNCFAULT{name}",
        "secretAccessKey": f"fault-secret-{name.lower()}-0123456789",
    }


def description(name: str) -> str:
    return f"Fault test {name} {uuid.uuid4().hex[:8]}"


def sandbox_job_ids(sandbox_control) -> set[str]:
    """Every ingestion job of the sandbox's data source, as AWS lists them."""
    pages = sandbox_control.agent.get_paginator("list_ingestion_jobs").paginate(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=SANDBOX_DATA_SOURCE_ID
    )
    return {job["ingestionJobId"] for page in pages for job in page["ingestionJobSummaries"]}


def follow(aws_api, execution_id: str, condition, seen: list[str], timeout: float = 30.0):
    """Poll GET /api/sync as seed 000's client does until `condition`, noting every status."""

    def noted(execution: dict) -> bool:
        seen.append(execution["status"])
        return condition(execution)

    return aws_api.wait_for(execution_id, noted, timeout)


def has_ended(execution: dict) -> bool:
    return execution["status"] in ("COMPLETADO", "FALLIDO", "DETENIDO") and (
        "finishedAt" in execution
    )


def lines_with(execution: dict, text: str) -> list[str]:
    return [line for line in execution["logs"] if text in line]


def history_rows(aws_api, credentials: dict) -> list[dict]:
    reply = aws_api.post("/api/sync-history", history_body(**credentials))
    assert reply.status == 200, (reply.status, reply.json)
    return reply.json["executions"]


def assert_history_shows_it_once(aws_api, credentials, execution: dict, status: str) -> None:
    """One row for the job, the local execution's, and no other row of the same sync."""
    rows = history_rows(aws_api, credentials)
    same_job = [row for row in rows if row["jobId"] == execution["jobId"]]
    assert [(row["id"], row["source"], row["status"]) for row in same_job] == [
        (execution["id"], "LOCAL", status)
    ]
    same_sync = [row for row in rows if row["description"] == execution["description"]]
    assert len(same_sync) == 1, same_sync


def replica_of(call: dict) -> str:
    return USER_AGENT_REPLICA.search(call["userAgent"]).group(1)


def start_running_sync(aws_api, credentials: dict, name: str) -> dict:
    """A sync whose job AWS has started and that runs until the test finishes it."""
    execution_id = aws_api.start_sync(sync_body(description=description(name), **credentials))
    return aws_api.wait_for(execution_id, lambda execution: execution["status"] == "EN_EJECUCION")


def restart_after_kill(aws_console, aws_api, execution_id: str) -> dict:
    """kill -9, start again; the new console, without credentials of its own, takes the run
    over once the killed one's lease ends and marks it interrupted."""
    aws_console.kill()
    aws_console.start()
    interrupted = aws_api.wait_for(execution_id, lambda execution: execution["interrupted"])
    assert LOG_INTERRUPTED in interrupted["logs"][-1]
    return interrupted


def test_throttling_on_the_first_poll_after_a_resume_is_retried(
    aws_console, aws_api, sandbox_control
):
    credentials = keys("RESUME01")
    running = start_running_sync(aws_api, credentials, "resume-poll")
    interrupted = restart_after_kill(aws_console, aws_api, running["id"])
    assert interrupted["status"] == "EN_EJECUCION"

    sandbox_control.inject_fault(
        operation="GetIngestionJob", error="ThrottlingException", count=2
    )
    history_rows(aws_api, credentials)  # with the keys: the run is resumed, and polls first

    seen: list[str] = []
    follow(aws_api, running["id"], lambda execution: not sandbox_control.faults(), seen)
    resumed = follow(
        aws_api, running["id"], lambda execution: "Estado actual: " in execution["logs"][-1], seen
    )
    assert resumed["interrupted"] is False
    assert resumed["logs"][-4].endswith(LOG_RESUMED)
    retried = lines_with(resumed, LOG_POLL_RETRY)
    assert len(retried) == 2 and all("ThrottlingException" in line for line in retried)
    sandbox_control.finish_running_jobs()
    finished = follow(aws_api, running["id"], has_ended, seen)

    assert "FALLIDO" not in seen
    assert finished["status"] == "COMPLETADO"
    assert finished["logs"][-1].endswith("Sincronización completada correctamente.")
    assert sandbox_control.job(running["jobId"])["status"] == "COMPLETE"


def test_dropped_connections_while_polling_never_show_fallido(aws_api, sandbox_control):
    credentials = keys("DROPPED01")
    running = start_running_sync(aws_api, credentials, "dropped-poll")

    sandbox_control.inject_fault(operation="GetIngestionJob", closeConnection=True, count=3)
    seen: list[str] = []
    polled_on = follow(
        aws_api, running["id"],
        lambda execution: len(lines_with(execution, LOG_POLL_RETRY)) == 3
        and not sandbox_control.faults(),
        seen,
    )
    assert all("ConnectionClosedError" in line for line in lines_with(polled_on, LOG_POLL_RETRY))
    sandbox_control.finish_running_jobs()
    finished = follow(aws_api, running["id"], has_ended, seen)

    assert "FALLIDO" not in seen
    assert set(seen) <= {"EN_EJECUCION", "COMPLETADO"}
    assert finished["status"] == "COMPLETADO"
    assert len(lines_with(finished, LOG_POLL_RETRY)) == 3
    assert_history_shows_it_once(aws_api, credentials, finished, "COMPLETADO")


@pytest.mark.parametrize(
    ("name", "lost"),
    [("LOST500", {"status": 500}), ("LOSTCLOSED", {})],
    ids=["error-500", "connection-closed"],
)
def test_a_start_whose_answer_is_lost_gets_the_job_aws_created(
    aws_api, sandbox_control, name, lost
):
    credentials = keys(name)
    jobs_before = sandbox_job_ids(sandbox_control)
    sandbox_control.clear_calls()
    sandbox_control.inject_fault(
        operation="StartIngestionJob", lostAnswer=True, count=1, **lost
    )

    execution_id = aws_api.start_sync(sync_body(description=description(name), **credentials))
    seen: list[str] = []
    started = follow(aws_api, execution_id, lambda execution: execution["jobId"], seen)
    sandbox_control.finish_running_jobs()
    finished = follow(aws_api, execution_id, has_ended, seen)

    assert "FALLIDO" not in seen
    assert finished["status"] == "COMPLETADO"
    assert finished["jobId"] == started["jobId"]
    assert len(lines_with(finished, LOG_START_RETRY)) == 1
    starts = sandbox_control.calls("StartIngestionJob")
    assert [call["parameters"]["clientToken"] for call in starts] == [
        f"kbsync-{execution_id}"
    ] * 2
    assert sandbox_job_ids(sandbox_control) - jobs_before == {finished["jobId"]}
    assert_history_shows_it_once(aws_api, credentials, finished, "COMPLETADO")


def test_a_start_in_flight_at_a_kill_gets_the_job_aws_created(
    aws_console, aws_api, sandbox_control
):
    credentials = keys("INFLIGHT01")
    jobs_before = sandbox_job_ids(sandbox_control)
    sandbox_control.clear_calls()
    # AWS creates the job at once and holds its answer back for 3 s.
    sandbox_control.inject_fault(
        operation="StartIngestionJob", lostAnswer=True, latencySeconds=3, count=1
    )
    body = sync_body(description=description("in-flight"), **credentials)
    execution_id = aws_api.start_sync(body)
    wait_until(
        lambda: sandbox_job_ids(sandbox_control) - jobs_before, what="AWS created the job"
    )
    (created,) = sandbox_job_ids(sandbox_control) - jobs_before

    interrupted = restart_after_kill(aws_console, aws_api, execution_id)
    assert (interrupted["status"], interrupted["jobId"]) == ("PENDIENTE", None)

    history_rows(aws_api, credentials)  # with the keys: the start is retried
    seen: list[str] = []
    started = follow(aws_api, execution_id, lambda execution: execution["jobId"], seen)
    assert started["jobId"] == created
    sandbox_control.finish_running_jobs()
    finished = follow(aws_api, execution_id, has_ended, seen)

    assert "FALLIDO" not in seen
    assert (finished["status"], finished["jobId"]) == ("COMPLETADO", created)
    starts = sandbox_control.calls("StartIngestionJob")
    assert [call["parameters"]["clientToken"] for call in starts] == [
        f"kbsync-{execution_id}"
    ] * 2
    assert replica_of(starts[0]) != replica_of(starts[1]), "the retry is the new console's"
    assert sandbox_job_ids(sandbox_control) - jobs_before == {created}
    assert_history_shows_it_once(aws_api, credentials, finished, "COMPLETADO")


def test_a_stop_answered_before_a_kill_stops_the_job_after_the_restart(
    aws_console, aws_api, sandbox_control
):
    credentials = keys("STOPKILL01")
    running = start_running_sync(aws_api, credentials, "stop-kill")
    (killed_replica,) = {
        replica_of(call)
        for call in sandbox_control.calls("StartIngestionJob")
        if call["parameters"].get("clientToken") == f"kbsync-{running['id']}"
    }
    sandbox_control.clear_calls()
    # Whichever StopIngestionJob comes first does nothing: the one the killed console may send
    # before it dies cannot be what stops the job.
    sandbox_control.inject_fault(
        operation="StopIngestionJob", closeConnection=True, latencySeconds=1, count=1
    )

    reply = aws_api.post("/api/sync/stop", {"executionId": running["id"]})
    assert reply.status == 202, (reply.status, reply.json)
    aws_console.kill()
    assert sandbox_control.job(running["jobId"])["status"] in AWS_RUNNING
    aws_console.start()
    interrupted = aws_api.wait_for(running["id"], lambda execution: execution["interrupted"])
    assert interrupted["status"] == "EN_EJECUCION"

    history_rows(aws_api, credentials)  # with the keys: the run is resumed, stop and all
    wait_until(
        lambda: sandbox_control.job(running["jobId"])["status"] == "STOPPING",
        what="AWS asked to stop the job",
    )
    sandbox_control.finish_running_jobs()  # STOPPING lasts 4 simulated seconds
    seen: list[str] = []
    stopped = follow(aws_api, running["id"], has_ended, seen)

    assert "FALLIDO" not in seen
    assert stopped["status"] == "DETENIDO"
    assert stopped["logs"][-1].endswith("Sincronización detenida.")
    assert sandbox_control.job(running["jobId"])["status"] == "STOPPED"
    stops = sandbox_control.calls("StopIngestionJob")
    assert replica_of(stops[-1]) != killed_replica, "the stop that worked is the new console's"
