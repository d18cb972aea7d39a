"""Scoped tokens over HTTP: made with `python -m kbsync tokens` while the console runs, in
force at once; a revoked one refused within 5 s; each endpoint's scope checked."""

import time
import uuid

import pytest

from tests.api.client import JsonClient
from tests.api.conftest import history_body, sync_body
from tests.support.cli import kbsync
from tests.support.servers import start_console
from tests.support.tokens import client, create_token, database_url

REVOCATION_SECONDS = 6.0  # 5 s of cache, plus a request's time
# About 1.7 s: the CLI takes days, fractions too.
TINY_EXPIRY_DAYS = "0.00002"
# A fixed id no execution has: a random one would give each pytest-xdist worker different
# test ids, and the workers must collect the same tests.
UNKNOWN_EXECUTION_ID = "0b5e0c4e-6f1d-4c55-9d8e-2b7f3c1a9e01"
READS = [
    ("GET", f"/api/sync?executionId={UNKNOWN_EXECUTION_ID}", None),
    ("POST", "/api/sync-history", history_body()),
]
WRITES = [
    ("POST", "/api/sync", sync_body()),
    ("POST", "/api/sync/stop", {"executionId": UNKNOWN_EXECUTION_ID}),
]


@pytest.fixture(scope="module")
def scoped(tmp_path_factory):
    with start_console(tmp_path_factory.mktemp("scoped"), name="scoped") as running:
        yield running


def wait_for_status(api: JsonClient, status: int, timeout: float) -> float:
    """Seconds until GET /api/sync answers `status`; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if api.get("/api/sync", executionId=str(uuid.uuid4())).status == status:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"no {status} within {timeout} s")


@pytest.fixture(scope="module")
def tokens(scoped) -> dict[str, str]:
    """Made only once the first test saw the API open."""
    return {
        "reader": create_token(scoped, "reader", "sync:read"),
        "writer": create_token(scoped, "writer", "sync:write"),
        "admin": create_token(scoped, "admin", "*"),
        "jobs": create_token(scoped, "jobs", "jobs:read,jobs:write"),
    }


def test_before_any_token_the_seeds_endpoints_are_open(scoped):
    anonymous = client(scoped)
    assert anonymous.post("/api/sync-history", history_body()).status == 200
    assert anonymous.get("/api/sync", executionId=str(uuid.uuid4())).status == 404


def test_a_new_token_works_at_once_and_then_a_token_is_required(scoped, tokens):
    assert client(scoped, tokens["reader"]).post("/api/sync-history", history_body()).status == 200
    assert client(scoped, tokens["writer"]).post("/api/sync", sync_body()).status == 202
    for method, path, payload in READS + WRITES:
        reply = client(scoped).request(method, path, payload)
        assert reply.status == 401, (path, reply.json)
        assert reply.headers["www-authenticate"].startswith("Bearer")
    unknown = client(scoped, "kbs_" + "x" * 43).post("/api/sync-history", history_body())
    assert unknown.status == 401


@pytest.mark.parametrize(("method", "path", "payload"), READS)
def test_reads_need_sync_read(scoped, tokens, method, path, payload):
    for name in ("writer", "jobs"):
        reply = client(scoped, tokens[name]).request(method, path, payload)
        assert reply.status == 403
        assert reply.json["error"] == "This token lacks the scope sync:read."
    assert client(scoped, tokens["reader"]).request(method, path, payload).status in (200, 404)


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
def test_writes_need_sync_write(scoped, tokens, method, path, payload):
    for name in ("reader", "jobs"):
        reply = client(scoped, tokens[name]).request(method, path, payload)
        assert reply.status == 403
        assert "sync:write" in reply.json["error"]
    assert client(scoped, tokens["writer"]).request(method, path, payload).status in (202, 404)


def test_the_star_scope_opens_everything(scoped, tokens):
    admin = client(scoped, tokens["admin"])
    execution_id = admin.start_sync(sync_body())
    assert admin.get("/api/sync", executionId=execution_id).status == 200
    assert admin.post("/api/sync-history", history_body()).status == 200
    assert admin.post("/api/sync/stop", {"executionId": execution_id}).status in (202, 409)


def test_a_revoked_token_is_refused_within_5_seconds(scoped, tokens):
    token = create_token(scoped, "short-lived", "sync:read")
    api = client(scoped, token)
    assert api.get("/api/sync", executionId=str(uuid.uuid4())).status == 404  # kept in memory
    revoked = kbsync("tokens", "revoke", "short-lived", database_url=database_url(scoped))
    assert revoked.returncode == 0, revoked.stderr
    assert wait_for_status(api, 401, timeout=10) < REVOCATION_SECONDS


def test_an_expired_token_is_refused(scoped, tokens):
    token = create_token(scoped, "expiring", "sync:read", "--expires-in", TINY_EXPIRY_DAYS)
    wait_for_status(client(scoped, token), 401, timeout=10)


def test_health_never_needs_a_token(scoped, tokens):
    reply = client(scoped).get("/api/health")
    assert reply.status == 200
    assert reply.json["ok"] is True
