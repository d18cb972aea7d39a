"""Connections over HTTP: every endpoint and status, secrets refused, scopes, a token limited
to some connections seeing no other, a sync started from a connection, and the 401 on the aws
backend while no token exists."""

import pytest

from tests.api.client import JsonClient
from tests.api.conftest import history_body, sync_body
from tests.support.servers import start_console
from tests.support.tokens import client, create_token


def body(**overrides) -> dict:
    payload = {
        "id": "orders-kb",
        "name": "Orders",
        "region": "us-east-1",
        "knowledgeBaseId": "SANDBOXKB1",
        "dataSourceId": "SANDBOXDS1",
        "credentials": {"type": "default"},
    }
    payload.update(overrides)
    return payload


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with start_console(tmp_path_factory.mktemp("connections"), name="connections") as running:
        yield running


@pytest.fixture(scope="module")
def tokens(console) -> dict[str, str]:
    return {
        "admin": create_token(console, "admin", "*"),
        "reader": create_token(console, "reader", "connections:read"),
        "syncer": create_token(console, "syncer", "sync:read,sync:write"),
        "limited": create_token(console, "limited", "*", "--connections", "sandbox,mine"),
    }


@pytest.fixture
def admin(console, tokens) -> JsonClient:
    return client(console, tokens["admin"])


def test_the_sandbox_starts_with_its_connections(admin):
    reply = admin.get("/api/connections")
    assert reply.status == 200
    listed = {c["id"]: c for c in reply.json["connections"]}
    assert listed["sandbox"]["dataSourceId"] == "SANDBOXDS1"
    assert listed["sandbox-failing"]["dataSourceId"] == "SANDBOXDS2"
    assert listed["sandbox"]["credentials"] == {"type": "default"}


def test_create_read_update_test_delete(admin):
    created = admin.post("/api/connections", body())
    assert created.status == 201, created.json
    assert created.json["id"] == "orders-kb"
    assert admin.post("/api/connections", body()).status == 409
    assert admin.get("/api/connections/orders-kb").json["name"] == "Orders"
    updated = admin.request("PUT", "/api/connections/orders-kb", body(name="Orders (prod)"))
    assert updated.status == 200, updated.json
    assert updated.json["name"] == "Orders (prod)"
    tested = admin.post("/api/connections/orders-kb/test")
    assert tested.status == 200
    assert tested.json["ok"] is True
    assert tested.json["dataSource"]["type"] == "S3"
    assert tested.json["dataSource"]["bucket"]
    deleted = admin.request("DELETE", "/api/connections/orders-kb")
    assert deleted.status == 204
    assert deleted.raw == b""
    assert admin.get("/api/connections/orders-kb").status == 404
    assert admin.request("DELETE", "/api/connections/orders-kb").status == 404
    assert admin.request("PUT", "/api/connections/orders-kb", body()).status == 404
    assert admin.post("/api/connections/orders-kb/test").status == 404


def test_a_failing_test_names_the_call(admin):
    made = admin.post("/api/connections", body(id="broken", knowledgeBaseId="UNKNOWNKB1"))
    assert made.status == 201
    tested = admin.post("/api/connections/broken/test")
    assert tested.status == 200
    assert tested.json["ok"] is False
    assert tested.json["failedCall"] == "GetKnowledgeBase"
    assert "ResourceNotFoundException" in tested.json["error"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
        {"credentials": {"type": "role", "roleArn": "arn:aws:iam::123456789012:role/x",
                         "sessionToken": "FwoGZXIvYXdzEBYaDkbsync"}},
        {"credentials": {"type": "default", "extra": {"aws_secret_access_key": "s3cr3tvalue"}}},
    ],
)
def test_a_body_with_a_secret_is_refused(admin, overrides):
    reply = admin.post("/api/connections", body(id="leaky", **overrides))
    assert reply.status == 400
    assert "never stores secrets" in reply.error
    for value in ("wJalrXUtnFEMI", "FwoGZXIvYXdzEBYaDkbsync", "s3cr3tvalue"):
        assert value.encode() not in reply.raw
    assert admin.get("/api/connections/leaky").status == 404


def test_invalid_bodies_are_400_naming_the_field(admin):
    reply = admin.post("/api/connections", body(id="Bad Id"))
    assert reply.status == 400
    assert reply.json["field"] == "id"


def test_scopes(console, tokens):
    reader = client(console, tokens["reader"])
    assert reader.get("/api/connections").status == 200
    assert reader.get("/api/connections/sandbox").status == 200
    assert reader.post("/api/connections/sandbox/test").status == 200
    assert reader.post("/api/connections", body(id="nope")).status == 403
    assert reader.request("DELETE", "/api/connections/sandbox").status == 403
    assert client(console, tokens["syncer"]).get("/api/connections").status == 403
    assert client(console).get("/api/connections").status == 401


def test_a_limited_token_sees_only_its_connections(console, tokens, admin):
    limited = client(console, tokens["limited"])
    assert [c["id"] for c in limited.get("/api/connections").json["connections"]] == ["sandbox"]
    assert limited.get("/api/connections/sandbox-failing").status == 404
    assert limited.post("/api/connections/sandbox-failing/test").status == 404
    assert limited.request("DELETE", "/api/connections/sandbox-failing").status == 404
    assert limited.post("/api/sync", {"connectionId": "sandbox-failing"}).status == 404
    assert limited.post("/api/connections", body(id="mine")).status == 201
    assert limited.post("/api/connections", body(id="theirs")).status == 400
    # A run of another connection does not exist for it.
    other = admin.start_sync({"connectionId": "sandbox-failing", "description": "other"})
    assert limited.get("/api/sync", executionId=other).status == 404
    assert limited.post("/api/sync/stop", {"executionId": other}).status == 404
    own = limited.start_sync({"connectionId": "sandbox", "description": "mine"})
    assert limited.get("/api/sync", executionId=own).status == 200
    limited.wait_until_final(own)
    admin.wait_until_final(other)
    # Nothing but its connections: no keys of its own, no run started with keys.
    with_keys = limited.post("/api/sync", sync_body())
    assert with_keys.status == 403
    assert "acts only through its connections (sandbox, mine)" in with_keys.error
    assert limited.post("/api/sync-history", history_body()).status == 403
    # History through its own connection only.
    assert limited.post("/api/sync-history", {"connectionId": "sandbox"}).status == 200
    assert limited.post("/api/sync-history", {"connectionId": "sandbox-failing"}).status == 404
    keyed = admin.start_sync(sync_body())
    assert limited.get("/api/sync", executionId=keyed).status == 404
    admin.wait_until_final(keyed)


def test_a_sync_from_a_connection_completes(admin):
    execution_id = admin.start_sync(
        {"connectionId": "sandbox", "description": "From a connection"}
    )
    finished = admin.wait_until_final(execution_id)
    assert finished["status"] == "COMPLETADO", finished["logs"]
    assert finished["dataSourceId"] == "SANDBOXDS1"
    assert finished["description"] == "From a connection"
    history = admin.post("/api/sync-history", {"connectionId": "sandbox", "maxResults": 5})
    assert history.status == 200, history.json
    assert execution_id in [row["id"] for row in history.json["executions"]]
    assert len(history.json["executions"]) <= 5
    assert admin.post("/api/sync-history", {"connectionId": "missing"}).status == 404
    assert admin.post(
        "/api/sync-history", {"connectionId": "sandbox", "maxResults": 0}
    ).status == 400
    assert admin.post("/api/sync", {"connectionId": "missing"}).status == 404
    mixed = admin.post("/api/sync", {"connectionId": "sandbox", "region": "us-east-1"})
    assert mixed.status == 400


def test_a_connection_with_a_sync_running_is_not_deleted(admin):
    assert admin.post("/api/connections", body(id="busy")).status == 201
    execution_id = admin.start_sync({"connectionId": "busy", "description": "long"})
    refused = admin.request("DELETE", "/api/connections/busy")
    assert refused.status == 409, refused.json
    assert execution_id in refused.error
    assert "stop it or wait for it to end" in refused.error
    assert admin.get("/api/connections/busy").status == 200
    admin.wait_until_final(execution_id)
    assert admin.request("DELETE", "/api/connections/busy").status == 204


def test_the_aws_backend_refuses_connections_without_a_token(aws_api):
    for method, path in [("GET", "/api/connections"), ("GET", "/api/connections/x"),
                         ("POST", "/api/connections/x/test")]:
        reply = aws_api.request(method, path)
        assert reply.status == 401, (method, path, reply.json)
        assert "python -m kbsync tokens create" in reply.error
    # Starting a sync from a connection acts with the server's identity too.
    started = aws_api.post("/api/sync", {"connectionId": "any-connection"})
    assert started.status == 401, started.json
    assert "server's own identity" in started.error
    history = aws_api.post("/api/sync-history", {"connectionId": "any-connection"})
    assert history.status == 401, history.json


def test_the_sandbox_server_answers_sts_assume_role(sandbox_server):
    import boto3

    sts = boto3.client(
        "sts", region_name="us-east-1", endpoint_url=sandbox_server.url,
        aws_access_key_id="AKIAKBSYNCSERVERKEY0", aws_secret_access_key="server-secret-0123456789",
    )
    assumed = sts.assume_role(
        RoleArn="arn:aws:iam::123456789012:role/kbsync", RoleSessionName="kbsync-test"
    )["Credentials"]
    assert assumed["AccessKeyId"] != "AKIAKBSYNCSERVERKEY0"
    agent = boto3.client(
        "bedrock-agent", region_name="us-east-1", endpoint_url=sandbox_server.url,
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
    )
    assert agent.get_knowledge_base(knowledgeBaseId="SANDBOXKB1")["knowledgeBase"]["name"]
