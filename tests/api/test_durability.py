"""Executions outlive their process: a restart, and a SIGKILL in the middle of a sync.

These run kbsync with KBSYNC_BACKEND=aws against the sandbox server, a process of its own that
plays AWS: a killed kbsync finds its job where AWS would have kept it.
"""

from tests.api.client import wait_until
from tests.api.conftest import history_body, sync_body

LOG_INTERRUPTED = "ningún proceso de kbsync tiene credenciales para seguirla"
LOG_RECONCILED = "Estado final recuperado desde AWS: COMPLETE"
STOP_KEYS = {"accessKeyId": "AKIAKBSYNCSTOPPED01", "secretAccessKey": "stop-secret-0123456789"}


def start_running_sync(aws_api, **overrides) -> dict:
    """A sync whose job AWS has started and that stays running until the test finishes it."""
    execution_id = aws_api.start_sync(sync_body(**overrides))
    return aws_api.wait_for(
        execution_id, lambda execution: execution["status"] == "EN_EJECUCION"
    )


def wait_for_interruption(aws_api, execution_id: str) -> dict:
    """The killed process's lease runs out (KBSYNC_LEASE_SECONDS) and the new process, which
    has no credentials of its own, marks the execution interrupted."""
    return aws_api.wait_for(execution_id, lambda execution: execution["interrupted"])


def test_a_restart_keeps_an_ended_execution_and_its_logs(aws_console, aws_api, sandbox_control):
    running = start_running_sync(aws_api)
    sandbox_control.finish_running_jobs()
    before = aws_api.wait_until_final(running["id"])

    aws_console.restart()

    after = aws_api.execution(running["id"])
    assert after == before
    assert after["status"] == "COMPLETADO"
    assert len(after["logs"]) >= 5


def test_a_killed_process_execution_takes_its_final_state_from_aws_history(
    aws_console, aws_api, sandbox_control
):
    running = start_running_sync(aws_api, accessKeyId="AKIAKBSYNCKILLED001")
    job_id = running["jobId"]

    aws_console.kill()
    sandbox_control.finish_running_jobs()  # the job ends while no kbsync watches it
    assert sandbox_control.job(job_id)["status"] == "COMPLETE"
    aws_console.start()

    survivor = wait_for_interruption(aws_api, running["id"])
    assert survivor["status"] == "EN_EJECUCION"
    assert survivor["logs"][: len(running["logs"])] == running["logs"]
    assert LOG_INTERRUPTED in survivor["logs"][-1]

    history = aws_api.post("/api/sync-history", history_body(accessKeyId="AKIAKBSYNCKILLED001"))

    assert history.status == 200
    (row,) = [row for row in history.json["executions"] if row["jobId"] == job_id]
    assert (row["id"], row["status"]) == (running["id"], "COMPLETADO")
    settled = aws_api.execution(running["id"])
    assert settled["status"] == "COMPLETADO"
    assert settled["interrupted"] is False
    assert "finishedAt" in settled
    assert settled["statistics"]["numberOfDocumentsScanned"] > 0
    assert any(line.endswith(LOG_RECONCILED) for line in settled["logs"])
    assert settled["logs"][-1].endswith("Sincronización completada correctamente.")


def test_an_execution_a_killed_process_left_cannot_be_stopped_without_credentials(
    aws_console, aws_api, sandbox_control
):
    running = start_running_sync(aws_api, **STOP_KEYS)
    aws_console.kill()
    aws_console.start()
    wait_for_interruption(aws_api, running["id"])

    reply = aws_api.post("/api/sync/stop", {"executionId": running["id"]})

    assert reply.status == 409
    assert "accessKeyId and secretAccessKey" in reply.json["error"]
    assert sandbox_control.job(running["jobId"])["status"] in ("STARTING", "IN_PROGRESS")


def test_an_execution_a_killed_process_left_is_stopped_with_the_credentials_sent(
    aws_console, aws_api, sandbox_control
):
    running = start_running_sync(aws_api, **STOP_KEYS)
    aws_console.kill()
    aws_console.start()
    wait_for_interruption(aws_api, running["id"])

    reply = aws_api.post("/api/sync/stop", {"executionId": running["id"], **STOP_KEYS})

    assert reply.status == 202
    wait_until(
        lambda: sandbox_control.job(running["jobId"])["status"] == "STOPPING",
        what="AWS asked to stop the job",
    )
    sandbox_control.finish_running_jobs()  # STOPPING lasts 4 simulated seconds
    stopped = aws_api.wait_until_final(running["id"])
    assert stopped["status"] == "DETENIDO"
    assert sandbox_control.job(running["jobId"])["status"] == "STOPPED"
