"""Seed 002's data-ingestion API over HTTP, on a console of its own (its tokens make the API
require one): the seed's example job end to end, every status and the seed's error shape,
multipart at 25 MB, 31 MB refused, the list's filters, scopes and connection-limited tokens."""

import json
import re
import uuid

import pytest

from kbsync_api.contract import internal_error
from kbsync_api.ingestion import in_seed_shape
from tests.api.client import JsonClient
from tests.support.servers import start_console
from tests.support.tokens import client, create_token
from tests.support.waiting import wait_for

JOBS = "/api/v2/data-ingestion/jobs"
ADAPTERS = "/api/v2/data-ingestion/adapters"
CUSTOM = "sandbox-custom"  # the sandbox's CUSTOM data source (the document API)
S3 = "sandbox"  # the sandbox's S3 data source (the bucket, then a sync)
MB = 1024 * 1024
UNKNOWN_JOB = "7c9e8e8a-5b5a-4f5d-8b5e-5f5d5b5a5b5a"  # the seed's
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FINAL = ("completed", "failed", "cancelled")


def seed_records() -> list[dict]:
    """The seed's Quick Start records, as it sends them."""
    return [
        {
            "id": "doc-123",
            "title": "Product Documentation",
            "content": "This is the main content of the document...",
            "contentType": "markdown",
            "metadata": {"author": "John Doe", "category": "technical", "version": "1.0"},
            "url": "https://example.com/docs/product",
            "tags": ["documentation", "product", "technical"],
        },
        {
            "id": "doc-456",
            "title": "API Reference",
            "content": "Complete API reference documentation...",
            "contentType": "markdown",
            "metadata": {"author": "Jane Smith", "category": "api"},
            "tags": ["api", "reference"],
        },
    ]


def job_body(records, knowledge_base=CUSTOM, **extra) -> dict:
    return {
        "adapterType": "generic-json",
        "knowledgeBaseId": knowledge_base,
        "data": {"records": records},
        **extra,
    }


def many_records(count: int, prefix: str, size: int = 40) -> list[dict]:
    return [
        {"id": f"{prefix}-{n}", "title": f"Record {n}", "content": f"Record {n} " + "x" * size}
        for n in range(count)
    ]


def multipart(fields: dict[str, str], data: bytes, boundary: str = "kbsyncboundary7d3f") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="data.json"\r\n'
        "Content-Type: application/json\r\n\r\n".encode()
    )
    return b"".join(parts) + data + f"\r\n--{boundary}--\r\n".encode()


MULTIPART = "multipart/form-data; boundary=kbsyncboundary7d3f"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    # The document API's quota at the sandbox's speed, not Bedrock's 5 a second.
    with start_console(
        tmp_path_factory.mktemp("ingestion"), {"KBSYNC_INGEST_RATE": "400"}, name="ingestion"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(console) -> dict[str, str]:
    return {
        "admin": create_token(console, "ingest-admin", "data-ingestion:read,data-ingestion:write"),
        "reader": create_token(console, "ingest-reader", "data-ingestion:read"),
        "writer": create_token(console, "ingest-writer", "data-ingestion:write"),
        "sync": create_token(console, "sync-only", "sync:read,sync:write"),
        "limited": create_token(
            console, "s3-only", "data-ingestion:read,data-ingestion:write", "--connections", S3
        ),
    }


@pytest.fixture(scope="module")
def api(console, tokens) -> JsonClient:
    return client(console, tokens["admin"])


def assert_seed_error(
    reply, status: int, message: str | None = None, path: str = "/v2/data-ingestion/jobs"
):
    assert reply.status == status, (reply.status, reply.json)
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json
    assert list(body)[:5] == ["statusCode", "error", "message", "timestamp", "path"], body
    assert body["statusCode"] == status
    assert TIMESTAMP.match(body["timestamp"])
    assert body["path"] == path
    if message is not None:
        assert body["message"] == message
    return body


def wait_until_final(api: JsonClient, job_id: str) -> dict:
    def final():
        reply = api.get(f"{JOBS}/{job_id}")
        assert reply.status == 200, reply.json
        return reply.json if reply.json["status"] in FINAL else None

    return wait_for(final)


def test_the_seeds_example_is_accepted_then_completed_with_exact_counts(api):
    reply = api.post(JOBS, job_body(seed_records()))
    assert reply.status == 202, reply.json
    assert list(reply.json) == ["jobId", "status"]
    assert reply.json["status"] == "pending"
    job = wait_until_final(api, reply.json["jobId"])
    assert job["status"] == "completed", job
    assert job["id"] == reply.json["jobId"]
    assert job["data"]["adapterType"] == "generic-json"
    assert job["data"]["recordCount"] == 2
    assert job["data"]["progress"] == {
        "processed": 2, "total": 2, "successful": 2, "failed": 0, "skipped": 0,
    }  # fmt: skip
    assert [r["sourceId"] for r in job["data"]["results"]] == ["doc-123", "doc-456"]
    assert {r["status"] for r in job["data"]["results"]} == {"success"}
    assert job["result"]["entriesCreated"] == 2
    assert job["result"]["embeddingsGenerated"] is None  # Bedrock does not report it
    assert TIMESTAMP.match(job["started_at"]) and TIMESTAMP.match(job["completed_at"])
    assert "payload" not in job["data"]

    # The same records again: unchanged, so skipped, unless forced.
    again = wait_until_final(api, api.post(JOBS, job_body(seed_records())).json["jobId"])
    assert again["data"]["progress"]["skipped"] == 2
    assert again["result"]["entriesSkipped"] == 2
    forced_reply = api.post(JOBS, job_body(seed_records(), force=True))
    forced = wait_until_final(api, forced_reply.json["jobId"])
    assert forced["data"]["progress"]["successful"] == 2

    with_payload = api.get(f"{JOBS}/{reply.json['jobId']}", includePayload="true").json
    assert with_payload["data"]["payload"] == {"records": seed_records()}


def test_adapters_are_listed_as_the_seed_shows_them(api):
    reply = api.get(ADAPTERS)
    assert reply.status == 200
    assert reply.json == [
        {"name": "generic-json", "format": "json", "version": "1.0.0"},
        {"name": "content-hub", "format": "content-hub-json", "version": "1.0.0"},
    ]


def test_bad_requests_are_400s_in_the_seeds_shape(api):
    unknown = api.post(JOBS, {**job_body(seed_records()), "adapterType": "invalid-adapter"})
    assert_seed_error(unknown, 400, "Unknown adapter: invalid-adapter")

    records = [{"id": "a", "content": "x"}, {"id": "b"}, {"title": "no id", "content": "y"}]
    invalid = assert_seed_error(api.post(JOBS, job_body(records)), 400)
    paths = [error["path"] for error in invalid["errors"]]
    assert "data.records[1].content" in paths and "data.records[2].id" in paths, invalid
    assert all(error["message"] for error in invalid["errors"])

    twice = assert_seed_error(api.post(JOBS, job_body([{"id": "a", "content": "x"}] * 2)), 400)
    assert [error["path"] for error in twice["errors"]] == ["data.records[1].id"]

    missing = assert_seed_error(api.post(JOBS, {"knowledgeBaseId": CUSTOM}), 400)
    assert [error["path"] for error in missing["errors"]] == ["adapterType", "data"]

    assert_seed_error(api.post(JOBS, job_body(seed_records(), force="yes")), 400)
    not_json = api.post(JOBS, raw=b'{"adapterType": ', headers={"Content-Type": "application/json"})
    assert_seed_error(not_json, 400, "Invalid JSON format")
    assert_seed_error(api.post(JOBS, [1, 2]), 400, "The request body must be a JSON object")
    form = multipart({"adapterType": "generic-json", "knowledgeBaseId": CUSTOM}, b"not json")
    assert_seed_error(
        api.post(JOBS, raw=form, headers={"Content-Type": MULTIPART}),
        400,
        "Invalid file type: the data field must hold JSON",
    )


def test_unknown_things_are_404s_and_other_statuses_keep_the_shape(api):
    path = f"/v2/data-ingestion/jobs/{UNKNOWN_JOB}"
    assert_seed_error(api.get(f"{JOBS}/{UNKNOWN_JOB}"), 404, f"Job {UNKNOWN_JOB} not found", path)
    deleted = api.request("DELETE", f"{JOBS}/{UNKNOWN_JOB}")
    assert_seed_error(deleted, 404, f"Job {UNKNOWN_JOB} not found", path)
    nowhere = assert_seed_error(api.post(JOBS, job_body(seed_records(), "no-such-kb")), 404)
    assert "no-such-kb" in nowhere["message"]

    text = api.post(JOBS, raw=b"records", headers={"Content-Type": "text/plain"})
    assert_seed_error(text, 415)
    put = assert_seed_error(api.request("PUT", JOBS), 405)
    assert put["error"] == "Method Not Allowed"
    assert assert_seed_error(
        api.get("/api/v2/data-ingestion/nothing"), 404, path="/v2/data-ingestion/nothing"
    )


def test_cancel_is_204_then_409_once_ended(api):
    created = api.post(JOBS, job_body(many_records(3000, "cancel")))
    assert created.status == 202
    job_id = created.json["jobId"]
    cancelled = api.request("DELETE", f"{JOBS}/{job_id}")
    assert cancelled.status == 204 and cancelled.raw == b""
    job = wait_until_final(api, job_id)
    assert job["status"] == "cancelled"
    assert job["data"]["progress"]["processed"] < 3000
    assert "stay" in job["error"]  # what was sent stays, and the job says so
    again = api.request("DELETE", f"{JOBS}/{job_id}")
    assert_seed_error(
        again, 409, f"Job {job_id} is already cancelled", f"/v2/data-ingestion/jobs/{job_id}"
    )


def test_a_25_mb_multipart_upload_is_accepted_and_31_mb_is_a_413(api):
    records = many_records(250, "big", size=105_000)
    data = json.dumps({"records": records}).encode()
    assert 24 * MB < len(data) < 26 * MB
    form = multipart({"adapterType": "generic-json", "knowledgeBaseId": CUSTOM}, data)
    reply = api.post(JOBS, raw=form, headers={"Content-Type": MULTIPART})
    assert reply.status == 202, reply.json
    job = api.get(f"{JOBS}/{reply.json['jobId']}").json
    assert job["data"]["recordCount"] == 250
    assert job["data"]["progress"]["total"] == 250
    # Its delivery was proved on small jobs: spare the suite the seconds of 25 MB of it.
    assert api.request("DELETE", f"{JOBS}/{reply.json['jobId']}").status in (204, 409)

    too_large = multipart(
        {"adapterType": "generic-json", "knowledgeBaseId": CUSTOM}, b" " * 31 * MB
    )
    assert_seed_error(api.post(JOBS, raw=too_large, headers={"Content-Type": MULTIPART}), 413)
    # Without a declared length, counted as it arrives.
    chunks = iter([b'{"data": "'] + [b"x" * MB] * 31 + [b'"}'])
    chunked = api.post(JOBS, raw=chunks, headers={"Content-Type": "application/json"})
    assert_seed_error(chunked, 413)


def test_the_list_pages_filters_and_checks_its_parameters(api):
    ids = [api.post(JOBS, job_body(many_records(3, f"list{n}"))).json["jobId"] for n in range(3)]
    for job_id in ids:
        wait_until_final(api, job_id)
    everything = api.get(JOBS, limit="100").json
    assert everything["total"] >= 3
    newest = [job["id"] for job in everything["jobs"]][:3]
    assert newest == ids[::-1]  # newest first
    assert "payload" not in everything["jobs"][0]["data"]

    page = api.get(JOBS, limit="1", offset="1").json
    assert page["total"] == everything["total"]
    assert [job["id"] for job in page["jobs"]] == [ids[1]]
    default = api.get(JOBS).json
    assert len(default["jobs"]) == min(20, everything["total"])

    completed = api.get(JOBS, status="completed", limit="100").json
    assert {job["status"] for job in completed["jobs"]} == {"completed"}
    assert completed["total"] == sum(1 for j in everything["jobs"] if j["status"] == "completed")
    assert api.get(JOBS, status="failed").json["total"] == 0
    with_payload = api.get(JOBS, limit="1", includePayload="true").json["jobs"][0]
    assert with_payload["data"]["payload"] == {"records": many_records(3, "list2")}

    created = everything["jobs"][0]["created_at"]
    day = created[:10]
    assert (
        api.get(JOBS, startDate=day, endDate=day, limit="100").json["total"] == everything["total"]
    )
    assert api.get(JOBS, startDate="2999-01-01").json["total"] == 0
    assert api.get(JOBS, endDate="2000-01-01").json["total"] == 0
    assert api.get(JOBS, startDate=created, limit="100").json["jobs"][0]["id"] == ids[2]

    for query, field in [
        ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"), ({"startDate": "yesterday"}, "startDate"),
        ({"endDate": "2025-13-01"}, "endDate"), ({"includePayload": "maybe"}, "includePayload"),
        ({"status": "done"}, "status"),
    ]:  # fmt: skip
        refused = assert_seed_error(api.get(JOBS, **query), 400)
        assert [error["path"] for error in refused["errors"]] == [field], query
    assert api.get(JOBS, limit="100").status == 200 and api.get(JOBS, limit="1").status == 200


def test_tokens_and_scopes_answer_in_the_seeds_words(console, tokens, api):
    assert_seed_error(client(console).get(JOBS), 401, "Access token is required")
    bad = client(console, "kbs_" + "x" * 43).get(ADAPTERS)
    assert_seed_error(bad, 401, "Invalid or expired access token", "/v2/data-ingestion/adapters")
    assert bad.headers["www-authenticate"].startswith("Bearer")

    reader, writer = client(console, tokens["reader"]), client(console, tokens["writer"])
    assert reader.get(JOBS).status == 200 and reader.get(ADAPTERS).status == 200
    denied = reader.post(JOBS, job_body(seed_records()))
    assert_seed_error(denied, 403, "Insufficient scope: data-ingestion:write required")
    assert_seed_error(
        reader.request("DELETE", f"{JOBS}/{UNKNOWN_JOB}"),
        403,
        "Insufficient scope: data-ingestion:write required",
        f"/v2/data-ingestion/jobs/{UNKNOWN_JOB}",
    )
    assert_seed_error(writer.get(JOBS), 403, "Insufficient scope: data-ingestion:read required")
    assert writer.post(JOBS, job_body(many_records(1, "writer"))).status == 202
    sync_only = client(console, tokens["sync"])
    assert_seed_error(sync_only.get(ADAPTERS), 403, path="/v2/data-ingestion/adapters")


def test_a_token_limited_to_connections_acts_only_on_their_jobs(console, tokens, api):
    limited = client(console, tokens["limited"])
    other = api.post(JOBS, job_body(many_records(1, "other"))).json["jobId"]
    assert_seed_error(limited.post(JOBS, job_body(seed_records(), CUSTOM)), 404)
    own = limited.post(JOBS, job_body(many_records(2, "s3"), S3))
    assert own.status == 202, own.json
    job = wait_until_final(limited, own.json["jobId"])
    assert job["status"] == "completed", job["error"]
    assert job["dataSourceType"] == "S3"

    listed = limited.get(JOBS, limit="100").json
    assert [j["id"] for j in listed["jobs"]] == [own.json["jobId"]]
    assert listed["total"] == 1
    assert_seed_error(
        limited.get(f"{JOBS}/{other}"),
        404,
        f"Job {other} not found",
        f"/v2/data-ingestion/jobs/{other}",
    )
    assert limited.request("DELETE", f"{JOBS}/{other}").status == 404
    assert api.get(f"{JOBS}/{other}").status == 200  # it exists: hidden, not missing


def test_an_unknown_job_id_of_any_form_is_a_404(api):
    for job_id in (str(uuid.uuid4()), "x" * 300, "%E2%82%AC"):
        assert api.get(f"{JOBS}/{job_id}").status == 404


def test_a_fault_of_kbsyncs_is_the_seeds_500_without_its_details():
    reply = in_seed_shape(JOBS, internal_error("testing", RuntimeError("secret detail")))
    assert reply.status == 500
    assert reply.body["message"] == "An unexpected error occurred"
    assert reply.body["error"] == "Internal Server Error"
    assert reply.body["path"] == "/v2/data-ingestion/jobs"
    assert "secret detail" not in json.dumps(reply.body)
