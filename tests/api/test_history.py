"""POST /api/sync-history over HTTP, as seed 001 describes it, merged as DESIGN.md says."""

import re

import pytest

from kbsync_core.validation import MISSING_HISTORY_PARAMETERS
from kbsync_sandbox import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_FAILING_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
)
from tests.api.conftest import history_body, sync_body, without

REQUIRED_FIELDS = ("region", "knowledgeBaseId", "dataSourceId", "accessKeyId", "secretAccessKey")
SEED_STATUSES = {"PENDIENTE", "EN_EJECUCION", "COMPLETADO", "FALLIDO", "DETENIDO"}


def test_seed_001_example_lists_a_local_sync_once_with_its_logs(api):
    execution_id = api.start_sync(sync_body())
    finished = api.wait_until_final(execution_id)

    reply = api.post("/api/sync-history", history_body())

    assert reply.status == 200
    rows = reply.json["executions"]
    assert 1 <= len(rows) <= 40
    assert {row["status"] for row in rows} <= SEED_STATUSES
    same_job = [row for row in rows if row["jobId"] == finished["jobId"]]
    assert len(same_job) == 1, "a local sync and AWS's record of its job are one row"
    (row,) = same_job
    assert (row["id"], row["source"]) == (execution_id, "LOCAL")
    assert row["logs"] == finished["logs"]
    assert row["status"] == "COMPLETADO"
    starts = [row["startedAt"] for row in rows]
    assert starts == sorted(starts, reverse=True), "newest first"


@pytest.mark.parametrize("missing", [*REQUIRED_FIELDS, "all"])
def test_a_missing_required_field_is_the_seeds_400(api, missing):
    body = {} if missing == "all" else without(history_body(), missing)
    reply = api.post("/api/sync-history", body)
    assert (reply.status, reply.json) == (400, {"error": MISSING_HISTORY_PARAMETERS})


@pytest.mark.parametrize("max_results", [0, 101, -1, 1.5, "40", True, []])
def test_max_results_outside_1_to_100_is_a_400_naming_it(api, max_results):
    reply = api.post("/api/sync-history", history_body(maxResults=max_results))
    assert reply.status == 400
    assert reply.json["error"].startswith("maxResults")


@pytest.mark.parametrize("max_results", [1, 100])
def test_max_results_1_and_100_are_accepted_and_bound_the_rows(api, max_results):
    api.wait_until_final(api.start_sync(sync_body()))
    api.wait_until_final(api.start_sync(sync_body()))
    reply = api.post("/api/sync-history", history_body(maxResults=max_results))
    assert reply.status == 200
    assert 1 <= len(reply.json["executions"]) <= max_results
    if max_results == 1:
        assert len(reply.json["executions"]) == 1


def test_max_results_defaults_to_30(api):
    reply = api.post("/api/sync-history", without(history_body(), "maxResults"))
    assert reply.status == 200
    assert len(reply.json["executions"]) <= 30


def test_an_unknown_knowledge_base_is_a_500_with_awss_message(api):
    reply = api.post("/api/sync-history", history_body(knowledgeBaseId="MISSINGKB1"))
    assert reply.status == 500
    assert reply.json["error"].startswith("ResourceNotFoundException: ")
    assert "MISSINGKB1" in reply.json["error"]


def test_access_denied_is_a_500_with_awss_message(api):
    denied_key = DENIED_ACCESS_KEY_PREFIX + "KBSYNC0001"
    reply = api.post("/api/sync-history", history_body(accessKeyId=denied_key))
    assert reply.status == 500
    assert reply.json["error"].startswith("AccessDeniedException: ")
    assert "is not authorized to perform" in reply.json["error"]


def test_a_job_started_outside_kbsync_is_an_aws_row_in_seed_001s_shape(
    aws_api, sandbox_control
):
    job = sandbox_control.agent.start_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=SANDBOX_FAILING_DATA_SOURCE_ID
    )["ingestionJob"]
    sandbox_control.finish_running_jobs()

    reply = aws_api.post(
        "/api/sync-history",
        # Its own key: the server caches AWS's answer briefly per credentials.
        history_body(dataSourceId=SANDBOX_FAILING_DATA_SOURCE_ID, accessKeyId="AKIAKBSYNCAWSROW01"),
    )

    assert reply.status == 200
    (row,) = [row for row in reply.json["executions"] if row["jobId"] == job["ingestionJobId"]]
    assert row["id"] == "aws-" + job["ingestionJobId"]
    assert (row["source"], row["status"]) == ("AWS", "FALLIDO")
    assert row["finishedAt"] >= row["startedAt"]
    assert re.fullmatch(r"\[.+\] Historial recuperado desde AWS\.", row["logs"][0])
    assert row["logs"][1:3] == [
        f"Ingestion Job ID: {job['ingestionJobId']}",
        "Estado AWS: FAILED",
    ]
    assert row["logs"][3].startswith("Iniciado: ")
    assert row["logs"][4].startswith("Última actualización: ")
