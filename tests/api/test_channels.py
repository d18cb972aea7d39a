"""Seed 003's sync API over HTTP: a channel is a connection, messages are documents.

Shapes as the seed's examples, every status (queued/running/completed/failed/cancelled) and
error code, and the scopes. On the embedded sandbox's console for what completes or fails by
itself; on a console of the `aws` backend, in front of the sandbox server, for the errors AWS
answers (faults injected) and for a sync slow enough to cancel and to conflict with.
"""

import time

import pytest

from kbsync_api.channels import FORCE_NOTE, failure_of
from kbsync_core import events
from kbsync_core.events import log_event
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from tests.api.client import JsonClient
from tests.support.servers import start_console
from tests.support.tokens import client, create_token

SEED_STATUS_KEYS = {
    "job_id",
    "channel_id",
    "status",
    "progress",
    "started_at",
    "estimated_completion",
    "current_stage",
}
SEED_PROGRESS_KEYS = {"total_messages", "processed_messages", "failing_messages", "percentage"}
SEED_HISTORY_KEYS = {
    "job_id",
    "channel_id",
    "status",
    "started_at",
    "completed_at",
    "duration_seconds",
    "messages_synced",
    "facts_extracted",
    "entities_created",
    "error",
}
STAGES = {"starting", "scanning", "indexing", "finishing", None}
API_TOKEN = "kbsync-channels-test-token-4c1d9e"
CHANNEL = "channels-kb"


def status(api: JsonClient, channel_id: str, job_id: str | None = None):
    query = {"channel_id": channel_id, **({"job_id": job_id} if job_id else {})}
    return api.get("/api/sync/status", **query)


def follow(api: JsonClient, channel_id: str, job_id: str, until: set[str], timeout=30.0):
    """GET /api/sync/status until its status is one of `until`; every answer seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = status(api, channel_id, job_id)
        assert reply.status == 200, (reply.status, reply.json)
        seen.append(reply.json)
        if reply.json["status"] in until:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"no {until} in {timeout} s: {seen[-1]}")


ANY_JOB = object()


def assert_seed_error(reply, http_status: int, code: str, job_id=ANY_JOB) -> dict:
    assert reply.status == http_status, (reply.status, reply.json)
    assert set(reply.json) == {"status", "job_id", "error"}
    assert reply.json["status"] == "failed"
    if job_id is not ANY_JOB:
        assert reply.json["job_id"] == job_id
    error = reply.json["error"]
    assert error["code"] == code and error["message"]
    assert "retry_after" in error["details"]
    return error


# -- on the embedded sandbox -----------------------------------------------------------------


def test_a_channel_syncs_to_completed_with_progress_as_the_seed_shows(api):
    started = api.post("/api/sync", {"channel_id": "sandbox", "force": False})
    assert started.status == 202, started.json
    body = started.json
    assert {"status", "job_id", "channel_id", "estimated_messages", "started_at"} <= set(body)
    assert (body["status"], body["channel_id"], body["force_applied"]) == (
        "started",
        "sandbox",
        False,
    )
    assert "note" not in body
    seen = follow(api, "sandbox", body["job_id"], {"completed"})

    assert {answer["status"] for answer in seen} <= {"queued", "running", "completed"}
    for answer in seen:
        assert set(answer) >= SEED_STATUS_KEYS and set(answer["progress"]) == SEED_PROGRESS_KEYS
        assert answer["current_stage"] in STAGES
    percentages = [a["progress"]["percentage"] for a in seen if a["progress"]["percentage"]]
    assert percentages == sorted(percentages)
    done = seen[-1]
    assert done["progress"] == {
        "total_messages": 20,
        "processed_messages": 20,
        "failing_messages": 0,
        "percentage": 100,
    }
    assert (done["current_stage"], done["error"]) == (None, None)
    assert done["estimated_completion"] == done["completed_at"]
    # The same id is the execution seed 000's GET /api/sync reads, with its progress.
    execution = api.execution(body["job_id"])
    assert execution["status"] == "COMPLETADO" and execution["progress"]["percentage"] == 100

    # The next sync expects as many documents as this one scanned; force is said, not faked.
    again = api.post("/api/sync", {"channel_id": "sandbox", "force": True})
    assert again.status == 202, again.json
    assert again.json["estimated_messages"] == 20
    assert (again.json["force_applied"], again.json["note"]) == (False, FORCE_NOTE)
    follow(api, "sandbox", again.json["job_id"], {"completed"})
    latest = status(api, "sandbox")  # no job_id: the channel's latest sync
    assert latest.json["job_id"] == again.json["job_id"]


def test_a_failed_sync_carries_its_error_in_status_and_history(api):
    started = api.post("/api/sync", {"channel_id": "sandbox-failing"})
    assert started.status == 202, started.json
    job_id = started.json["job_id"]
    failed = follow(api, "sandbox-failing", job_id, {"failed"})[-1]
    assert failed["error"]["code"] == "PLATFORM_ERROR"
    assert "Encountered error" in failed["error"]["message"]  # AWS's failure reasons

    history = api.get("/api/sync/history", channel_id="sandbox-failing", limit="5")
    assert history.status == 200
    row = history.json["history"][0]
    assert set(row) >= SEED_HISTORY_KEYS
    assert (row["job_id"], row["status"], row["error"]["code"]) == (
        job_id,
        "failed",
        "PLATFORM_ERROR",
    )
    assert row["duration_seconds"] >= 0 and row["completed_at"]
    assert row["messages_synced"] == (
        row["statistics"]["numberOfDocumentsScanned"] - row["statistics"]["numberOfDocumentsFailed"]
    )
    assert (row["facts_extracted"], row["entities_created"]) == (None, None)  # no Bedrock sense


def test_history_is_the_channels_syncs_newest_first_within_the_limit(api):
    for _ in range(2):
        job_id = api.post("/api/sync", {"channel_id": "sandbox"}).json["job_id"]
        follow(api, "sandbox", job_id, {"completed"})
    rows = api.get("/api/sync/history", channel_id="sandbox").json["history"]
    assert 2 <= len(rows) <= 10  # default limit 10
    assert [row["started_at"] for row in rows] == sorted(
        (row["started_at"] for row in rows), reverse=True
    )
    assert rows[0]["status"] == "completed" and rows[0]["messages_synced"] == 20
    one = api.get("/api/sync/history", channel_id="sandbox", limit="1").json["history"]
    assert [row["job_id"] for row in one] == [rows[0]["job_id"]]


@pytest.mark.parametrize(
    ("method", "path", "payload", "query", "http_status", "code"),
    [
        (
            "GET",
            "/api/sync/history",
            None,
            {"channel_id": "sandbox", "limit": "0"},
            400,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "/api/sync/history",
            None,
            {"channel_id": "sandbox", "limit": "101"},
            400,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "/api/sync/history",
            None,
            {"channel_id": "sandbox", "limit": "ten"},
            400,
            "INVALID_REQUEST",
        ),
        ("GET", "/api/sync/history", None, {}, 400, "INVALID_REQUEST"),
        ("GET", "/api/sync/history", None, {"channel_id": "nope"}, 404, "CHANNEL_NOT_FOUND"),
        ("GET", "/api/sync/status", None, {"channel_id": "nope"}, 404, "CHANNEL_NOT_FOUND"),
        (
            "GET",
            "/api/sync/status",
            None,
            {"channel_id": "sandbox", "job_id": "missing"},
            404,
            "JOB_NOT_FOUND",
        ),
        ("POST", "/api/sync", {"channel_id": "nope"}, None, 404, "CHANNEL_NOT_FOUND"),
        (
            "POST",
            "/api/sync",
            {"channel_id": "sandbox", "force": "yes"},
            None,
            400,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            "/api/sync",
            {"channel_id": "sandbox", "secretAccessKey": "x"},
            None,
            400,
            "INVALID_REQUEST",
        ),
        ("POST", "/api/sync/cancel", {"job_id": "missing"}, None, 404, "JOB_NOT_FOUND"),
        ("POST", "/api/sync/cancel", {}, None, 400, "INVALID_REQUEST"),
    ],
)
def test_refusals_are_in_the_seeds_error_shape(
    api, method, path, payload, query, http_status, code
):
    reply = api.get(path, **query) if method == "GET" else api.post(path, payload)
    assert_seed_error(reply, http_status, code)


def test_seed_000s_post_still_answers_as_it_did(api):
    reply = api.post("/api/sync", {"connectionId": "sandbox"})
    assert reply.status == 202 and set(reply.json) == {"executionId"}
    api.wait_until_final(reply.json["executionId"])


def test_an_internal_error_event_maps_to_internal_error_and_old_aws_events_by_their_text():
    base = Execution(
        "x",
        SyncTarget("us-east-1", "KB", "DS"),
        "",
        ExecutionStatus.FALLIDO,
        "2026-01-01T00:00:00.000Z",
    )
    internal = [log_event(events.INTERNAL_ERROR, error="KeyError: 'x'")]
    assert failure_of(Execution(**{**base.__dict__, "events": internal})).code == "INTERNAL_ERROR"
    # An event stored before the code was kept beside the text.
    old = [
        events.LogEvent(
            "2026-01-01T00:00:00.000Z",
            events.AWS_ERROR,
            {"error": "ServiceQuotaExceededException: too many"},
        )
    ]
    failure = failure_of(Execution(**{**base.__dict__, "events": old}))
    assert (failure.code, failure.retry_after) == ("RATE_LIMIT", 60)


# -- on AWS's errors (the sandbox server, faults injected) ------------------------------------


@pytest.fixture(scope="module")
def channels_console(tmp_path_factory, sandbox_server):
    environment = {
        "KBSYNC_BACKEND": "aws",
        "AWS_ENDPOINT_URL_BEDROCK_AGENT": sandbox_server.url,
        "AWS_EC2_METADATA_DISABLED": "true",
        # The server's own identity, which connections act with (any keys work on the sandbox).
        "AWS_ACCESS_KEY_ID": "AKIAKBSYNCCHANNELS01",
        "AWS_SECRET_ACCESS_KEY": "channels-test-secret-0123456789abcdef",
        "KBSYNC_API_TOKEN": API_TOKEN,
        "KBSYNC_AWS_MAX_ATTEMPTS": "1",
        "KBSYNC_POLL_SECONDS": "0.1",
    }
    with start_console(
        tmp_path_factory.mktemp("channels"), environment, name="channels-console"
    ) as running:
        admin = client(running, API_TOKEN)
        for connection_id, data_source in ((CHANNEL, "SANDBOXDS1"), ("gone-ds", "MISSINGDS1")):
            made = admin.post(
                "/api/connections",
                {
                    "id": connection_id,
                    "name": connection_id,
                    "region": "us-east-1",
                    "knowledgeBaseId": "SANDBOXKB1",
                    "dataSourceId": data_source,
                    "credentials": {"type": "default"},
                },
            )
            assert made.status == 201, made.json
        yield running


@pytest.fixture
def admin(channels_console, sandbox_control) -> JsonClient:
    return client(channels_console, API_TOKEN)


@pytest.mark.parametrize(
    ("aws_error", "http_status", "code", "retry_after"),
    [
        ("ServiceQuotaExceededException", 429, "RATE_LIMIT", 60),
        ("AccessDeniedException", 403, "AUTH_ERROR", None),
        ("ValidationException", 502, "PLATFORM_ERROR", 30),
    ],
)
def test_awss_refusal_to_start_is_the_seeds_error(
    admin, sandbox_control, aws_error, http_status, code, retry_after
):
    sandbox_control.inject_fault(operation="StartIngestionJob", error=aws_error, count=1)
    reply = admin.post("/api/sync", {"channel_id": CHANNEL})
    job_id = reply.json["job_id"]
    error = assert_seed_error(reply, http_status, code, job_id)
    assert error["details"]["retry_after"] == retry_after
    assert error["details"]["aws_error_code"] == aws_error
    assert reply.headers.get("retry-after") == (str(retry_after) if code == "RATE_LIMIT" else None)
    # The sync it would have been: failed, with the same error.
    failed = status(admin, CHANNEL, job_id).json
    assert (failed["status"], failed["error"]) == ("failed", error)
    # The seed's line of the log did not move: the code is kept beside it, not in it.
    assert any(f"] Error de AWS: {aws_error}: " in line for line in admin.execution(job_id)["logs"])


def test_a_missing_data_source_is_channel_not_found(admin):
    reply = admin.post("/api/sync", {"channel_id": "gone-ds"})
    assert_seed_error(reply, 404, "CHANNEL_NOT_FOUND", reply.json["job_id"])


def test_cancel_a_running_sync_conflict_while_it_runs_then_cancelled(admin, sandbox_control):
    started = admin.post("/api/sync", {"channel_id": CHANNEL})
    assert started.status == 202, started.json
    job_id = started.json["job_id"]
    follow(admin, CHANNEL, job_id, {"running"})

    busy = admin.post("/api/sync", {"channel_id": CHANNEL})
    error = assert_seed_error(busy, 409, "PLATFORM_ERROR", busy.json["job_id"])
    assert (error["details"]["retry_after"], error["details"]["aws_error_code"]) == (
        60,
        "ConflictException",
    )

    cancelled = admin.post("/api/sync/cancel", {"job_id": job_id})
    assert cancelled.status == 200, cancelled.json
    assert {"status", "job_id", "cancelled_at"} <= set(cancelled.json)
    assert (cancelled.json["status"], cancelled.json["job_id"]) == ("cancelled", job_id)
    # Still running until AWS has stopped the job; while AWS is STOPPING it: finishing.
    deadline = time.monotonic() + 30
    while admin.execution(job_id)["awsStatus"] != "STOPPING":
        assert time.monotonic() < deadline, admin.execution(job_id)
        time.sleep(0.02)
    stopping = status(admin, CHANNEL, job_id).json
    assert (stopping["status"], stopping["current_stage"]) == ("running", "finishing"), stopping
    sandbox_control.finish_running_jobs()  # the stop's end, without waiting for it
    assert follow(admin, CHANNEL, job_id, {"cancelled"})[-1]["error"] is None

    again = admin.post("/api/sync/cancel", {"job_id": job_id})
    assert_seed_error(again, 409, "JOB_ENDED", job_id)


def test_scopes_and_a_token_limited_to_other_connections(channels_console, admin):
    job_id = admin.post("/api/sync", {"channel_id": "gone-ds"}).json["job_id"]
    reader = client(channels_console, create_token(channels_console, "c-reader", "sync:read"))
    writer = client(channels_console, create_token(channels_console, "c-writer", "sync:write"))
    other = client(
        channels_console,
        create_token(
            channels_console, "c-other", "sync:read,sync:write", "--connections", "gone-ds"
        ),
    )
    anonymous = JsonClient(channels_console.url)

    assert anonymous.get("/api/sync/status", channel_id=CHANNEL).status == 401
    assert reader.get("/api/sync/history", channel_id=CHANNEL).status == 200
    assert reader.post("/api/sync", {"channel_id": CHANNEL}).status == 403
    assert reader.post("/api/sync/cancel", {"job_id": job_id}).status == 403
    assert writer.get("/api/sync/status", channel_id=CHANNEL).status == 403
    # A token limited to gone-ds sees that channel only.
    assert other.get("/api/sync/status", channel_id="gone-ds", job_id=job_id).status == 200
    assert_seed_error(other.get("/api/sync/history", channel_id=CHANNEL), 404, "CHANNEL_NOT_FOUND")
    assert_seed_error(other.post("/api/sync", {"channel_id": CHANNEL}), 404, "CHANNEL_NOT_FOUND")
    mine = admin.get("/api/sync/history", channel_id=CHANNEL).json["history"][0]["job_id"]
    assert_seed_error(other.post("/api/sync/cancel", {"job_id": mine}), 404, "JOB_NOT_FOUND")
