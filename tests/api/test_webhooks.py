"""Webhooks over HTTP: add, list (the URL as a hint), test, deliveries, delete; a failed sync's
message reaches a real receiver; scopes; and the URL in no reply, log or database file."""

import pytest

from tests.api.client import JsonClient
from tests.support.servers import start_console
from tests.support.tokens import client, create_token
from tests.support.webhook_receiver import SECRET_PATH, WebhookReceiver

HOOKS = "/api/connections/sandbox-failing/webhooks"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with start_console(tmp_path_factory.mktemp("webhooks"), name="webhooks") as running:
        yield running


@pytest.fixture(scope="module")
def tokens(console) -> dict[str, str]:
    return {
        "admin": create_token(console, "admin", "*"),
        "reader": create_token(console, "reader", "connections:read"),
    }


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def test_a_webhook_over_http_from_adding_to_a_failed_syncs_message(console, tokens, receiver):
    admin = client(console, tokens["admin"])
    added = admin.post(HOOKS, {"url": receiver.url})
    assert added.status == 201, added.json
    webhook_id = added.json["id"]
    assert added.json["url"].startswith("127.0.0.1:") and added.json["notifyCompleted"] is False

    listed = admin.get(HOOKS)
    assert listed.status == 200
    assert [w["id"] for w in listed.json["webhooks"]] == [webhook_id]

    tested = admin.post(f"{HOOKS}/{webhook_id}/test")
    assert tested.status == 200 and tested.json == {"ok": True, "status": 200, "error": None}
    assert "test message" in receiver.wait_for(1)[0]["body"]["text"]

    execution_id = admin.start_sync({"connectionId": "sandbox-failing"})
    assert admin.wait_until_final(execution_id)["status"] == "FALLIDO"
    message = receiver.wait_for(2)[1]["body"]
    assert "Sync FAILED" in message["text"] and execution_id in message["text"]
    deliveries = admin.get(f"{HOOKS}/deliveries")
    assert deliveries.status == 200
    [delivery] = deliveries.json["deliveries"]
    assert (delivery["executionId"], delivery["event"]) == (execution_id, "failed")
    assert delivery["state"] in ("pending", "delivered")

    assert admin.request("DELETE", f"{HOOKS}/{webhook_id}").status == 204
    assert admin.request("DELETE", f"{HOOKS}/{webhook_id}").status == 404
    assert admin.get(HOOKS).json == {"webhooks": []}

    # The URL went nowhere but to the receiver: no reply, log line or stored byte holds it.
    secret = SECRET_PATH.rsplit("/", 1)[-1].encode()
    assert not [body for body in admin.received if secret in body]
    for log in (console.stdout_path, console.stderr_path):
        assert secret not in log.read_bytes()
    stored = b"".join(p.read_bytes() for p in console.data_dir.glob("kbsync.sqlite3*"))
    assert secret not in stored


def test_refusals_and_scopes(console, tokens):
    admin = client(console, tokens["admin"])
    reader = client(console, tokens["reader"])
    refused = admin.post(HOOKS, {"url": "ftp://example.com/DoNotLeak"})
    assert refused.status == 400 and refused.json["field"] == "url"
    assert "DoNotLeak" not in refused.raw.decode()
    assert admin.post(HOOKS, {"url": "https://x.example/y", "extra": 1}).status == 400
    assert (
        admin.post("/api/connections/nope/webhooks", {"url": "https://x.example/y"}).status == 404
    )
    assert admin.post(f"{HOOKS}/no-such-webhook/test").status == 404
    assert reader.get(HOOKS).status == 200
    assert reader.get(f"{HOOKS}/deliveries").status == 200
    assert reader.post(HOOKS, {"url": "https://x.example/y"}).status == 403
    assert JsonClient(console.url).get(HOOKS).status == 401
