"""POST /api/sync and GET /api/sync over HTTP, as seed 000 describes them (sandbox ids)."""

import re
import uuid

import pytest

from kbsync_core.validation import MISSING_SYNC_PARAMETERS
from kbsync_sandbox import SANDBOX_FAILING_DATA_SOURCE_ID
from tests.api.conftest import sync_body, without

EXECUTION_NOT_FOUND = "No se encontró la ejecución solicitada."
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LOG_LINE = re.compile(r"^\[\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d{2}:\d{2}\] (?P<text>.+)$")
REQUIRED_FIELDS = ("region", "knowledgeBaseId", "dataSourceId", "accessKeyId", "secretAccessKey")


def log_texts(execution: dict) -> list[str]:
    texts = []
    for line in execution["logs"]:
        match = LOG_LINE.match(line)
        assert match, f"not a seed log line: {line!r}"
        texts.append(match["text"])
    return texts


def test_seed_000_flow_accepted_then_polled_to_completado(api):
    reply = api.post("/api/sync", sync_body(description="Manual sync from UI"))

    assert reply.status == 202
    assert set(reply.json) == {"executionId"}
    assert uuid.UUID(reply.json["executionId"]).version == 4
    execution_id = reply.json["executionId"]

    at_once = api.execution(execution_id)
    assert at_once["id"] == execution_id
    assert at_once["status"] in ("PENDIENTE", "EN_EJECUCION")
    assert "finishedAt" not in at_once
    assert log_texts(at_once)[0] == "Ejecución creada."

    done = api.wait_until_final(execution_id)
    assert done["status"] == "COMPLETADO"
    assert ISO_UTC.match(done["startedAt"]) and ISO_UTC.match(done["finishedAt"])
    assert done["finishedAt"] >= done["startedAt"]
    texts = log_texts(done)
    assert texts[:3] == [
        "Ejecución creada.",
        "Iniciando tarea de sincronización en Bedrock Knowledge Base...",
        f"Ingestion Job iniciado: {done['jobId']}",
    ]
    assert "Estado actual: COMPLETE" in texts
    assert texts[-1] == "Sincronización completada correctamente."
    # kbsync's additions to the seed's shape.
    assert re.fullmatch(r"[0-9A-Za-z]{10}", done["jobId"])
    assert done["statistics"]["numberOfDocumentsScanned"] > 0
    assert done["failureReasons"] == []
    assert done["description"] == "Manual sync from UI"
    assert (done["knowledgeBaseId"], done["dataSourceId"]) == ("SANDBOXKB1", "SANDBOXDS1")


def test_the_description_defaults_to_the_seeds(api):
    execution_id = api.start_sync(without(sync_body(), "description"))
    done = api.wait_until_final(execution_id)
    assert done["description"] == "Sincronización ejecutada desde la interfaz de chat"


def test_a_failing_data_source_ends_fallido_with_its_reasons(api):
    execution_id = api.start_sync(sync_body(dataSourceId=SANDBOX_FAILING_DATA_SOURCE_ID))
    done = api.wait_until_final(execution_id)
    assert done["status"] == "FALLIDO"
    assert done["failureReasons"]
    assert "finishedAt" in done


def test_denied_credentials_are_accepted_then_end_fallido_with_awss_words(api):
    execution_id = api.start_sync(sync_body(accessKeyId="AKIADENIEDKBSYNC0001"))
    done = api.wait_until_final(execution_id)
    assert done["status"] == "FALLIDO"
    assert any("AccessDeniedException" in line for line in done["logs"])


@pytest.mark.parametrize("missing", [*REQUIRED_FIELDS, "all"])
def test_a_missing_required_field_is_the_seeds_400(api, missing):
    body = {} if missing == "all" else without(sync_body(), missing)
    reply = api.post("/api/sync", body)
    assert (reply.status, reply.json) == (400, {"error": MISSING_SYNC_PARAMETERS})


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_required_field_counts_as_missing(api, blank):
    reply = api.post("/api/sync", sync_body(knowledgeBaseId=blank))
    assert (reply.status, reply.json) == (400, {"error": MISSING_SYNC_PARAMETERS})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("region", "moon-base-1"),
        ("region", 42),
        ("knowledgeBaseId", "SHORT"),
        ("knowledgeBaseId", ["SANDBOXKB1"]),
        ("dataSourceId", "SANDBOX-DS"),
        ("accessKeyId", "not an access key"),
        ("secretAccessKey", "has spaces in it"),
        ("sessionToken", 12345),
        ("description", "x" * 201),
        ("description", {"text": "nested"}),
    ],
)
def test_a_malformed_field_is_a_400_naming_it(api, field, value):
    reply = api.post("/api/sync", sync_body(**{field: value}))
    assert reply.status == 400
    assert reply.json["error"].startswith(field)
    assert reply.json["error"] != MISSING_SYNC_PARAMETERS


def test_an_unknown_execution_is_the_seeds_404(api):
    reply = api.get("/api/sync", executionId=str(uuid.uuid4()))
    assert (reply.status, reply.json) == (404, {"error": EXECUTION_NOT_FOUND})


@pytest.mark.parametrize("execution_id", ["not-a-uuid", "aws-ABCDEFGHIJ", "x" * 5000])
def test_an_id_that_cannot_exist_is_also_404(api, execution_id):
    reply = api.get("/api/sync", executionId=execution_id)
    assert (reply.status, reply.json) == (404, {"error": EXECUTION_NOT_FOUND})


@pytest.mark.parametrize("query", ["", "?executionId=", "?executionId=%20%20", "?id=abc"])
def test_get_without_an_execution_id_is_a_400(api, query):
    reply = api.request("GET", "/api/sync" + query)
    assert reply.status == 400
    assert "executionId" in reply.json["error"]


def test_head_answers_like_get_without_a_body(api):
    reply = api.request("HEAD", "/api/sync?executionId=" + str(uuid.uuid4()))
    assert reply.status == 404
    assert reply.raw == b""
