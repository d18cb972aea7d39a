"""POST /api/sync/stop over HTTP: kbsync's addition to seed 000.

Stopping an execution a restarted process no longer watches is in test_durability.py.
"""

import uuid

import pytest

from tests.api.conftest import sync_body

EXECUTION_NOT_FOUND = "No se encontró la ejecución solicitada."


def test_stopping_a_running_sync_is_accepted_and_ends_detenido(api):
    execution_id = api.start_sync(sync_body())

    reply = api.post("/api/sync/stop", {"executionId": execution_id})

    assert reply.status == 202
    assert reply.json["id"] == execution_id
    assert reply.json["status"] in ("PENDIENTE", "EN_EJECUCION")
    done = api.wait_until_final(execution_id)
    assert done["status"] == "DETENIDO"
    assert done["logs"][-1].endswith("Sincronización detenida.")
    assert any(f"Deteniendo Ingestion Job: {done['jobId']}" in line for line in done["logs"])


def test_stopping_an_ended_sync_is_a_409(api):
    execution_id = api.start_sync(sync_body())
    api.wait_until_final(execution_id)

    reply = api.post("/api/sync/stop", {"executionId": execution_id})

    assert reply.status == 409
    assert "COMPLETADO" in reply.json["error"]


def test_stopping_an_unknown_execution_is_the_seeds_404(api):
    reply = api.post("/api/sync/stop", {"executionId": str(uuid.uuid4())})
    assert (reply.status, reply.json) == (404, {"error": EXECUTION_NOT_FOUND})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "executionId is required."),
        ({"executionId": "  "}, "executionId is required."),
        ({"executionId": 7}, "executionId must be a string."),
        ({"executionId": ["a"]}, "executionId must be a string."),
        ([], "The request body must be a JSON object."),
    ],
)
def test_a_stop_without_a_usable_execution_id_is_a_400(api, body, expected):
    reply = api.post("/api/sync/stop", body)
    assert (reply.status, reply.json) == (400, {"error": expected})


def test_half_a_key_pair_is_a_400(api):
    reply = api.post(
        "/api/sync/stop", {"executionId": str(uuid.uuid4()), "accessKeyId": "AKIAKBSYNCHALF0001"}
    )
    assert reply.status == 400
    assert "accessKeyId and secretAccessKey" in reply.json["error"]
