"""KBSYNC_API_TOKEN over HTTP: every /api route but health wants `Authorization: Bearer`."""

import uuid

import pytest

from tests.api.client import JsonClient
from tests.api.conftest import API_TOKEN, history_body, sync_body
from tests.support.servers import start_console

# A fixed id no execution has: a random one would give each pytest-xdist worker different
# test ids, and the workers must collect the same tests.
UNKNOWN_EXECUTION_ID = "0b5e0c4e-6f1d-4c55-9d8e-2b7f3c1a9e01"
PROTECTED = [
    ("POST", "/api/sync", sync_body()),
    ("GET", f"/api/sync?executionId={UNKNOWN_EXECUTION_ID}", None),
    ("POST", "/api/sync/stop", {"executionId": UNKNOWN_EXECUTION_ID}),
    ("POST", "/api/sync-history", history_body()),
    ("GET", "/api/not-an-endpoint", None),
]
WRONG_AUTHORIZATIONS = [
    f"Bearer {API_TOKEN}x",
    f"Bearer {API_TOKEN[:-1]}",
    "Bearer ",
    f"Basic {API_TOKEN}",
    API_TOKEN,
    "Bearer ñandú-not-ascii",
]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    with start_console(
        tmp_path_factory.mktemp("guarded"), {"KBSYNC_API_TOKEN": API_TOKEN}, name="guarded"
    ) as running:
        yield running


@pytest.fixture
def anonymous(guarded) -> JsonClient:
    return JsonClient(guarded.url)


@pytest.mark.parametrize(("method", "path", "payload"), PROTECTED)
def test_without_a_token_every_route_is_a_401(anonymous, method, path, payload):
    reply = anonymous.request(method, path, payload)
    assert reply.status == 401
    assert "Authorization: Bearer" in reply.json["error"]
    assert reply.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", WRONG_AUTHORIZATIONS)
@pytest.mark.parametrize(("method", "path", "payload"), PROTECTED[:2])
def test_a_wrong_token_is_a_401(anonymous, method, path, payload, authorization):
    reply = anonymous.request(method, path, payload, headers={"Authorization": authorization})
    assert reply.status == 401
    assert set(reply.json) == {"error"}
    assert API_TOKEN not in reply.raw.decode()


def test_the_token_opens_every_route(guarded):
    authorized = JsonClient(guarded.url, headers={"Authorization": f"Bearer {API_TOKEN}"})
    execution_id = authorized.start_sync(sync_body())
    assert authorized.wait_until_final(execution_id)["status"] == "COMPLETADO"
    assert authorized.post("/api/sync-history", history_body()).status == 200
    assert authorized.post("/api/sync/stop", {"executionId": execution_id}).status == 409
    assert authorized.get("/api/not-an-endpoint").status == 404


def test_the_scheme_is_case_insensitive(guarded):
    lower = JsonClient(guarded.url, headers={"Authorization": f"bearer {API_TOKEN}"})
    assert lower.get("/api/sync", executionId=str(uuid.uuid4())).status == 404


def test_health_stays_open_to_load_balancers(anonymous):
    reply = anonymous.get("/api/health")
    assert reply.status == 200
    assert reply.json["ok"] is True


def test_the_token_is_checked_before_the_body_is_read(anonymous):
    reply = anonymous.post(
        "/api/sync", raw=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 401
