"""Credentials sent in request bodies are used, and never logged, stored or echoed back."""

import uuid

from kbsync_sandbox import DENIED_ACCESS_KEY_PREFIX
from tests.api.conftest import history_body, sync_body

SECRET = "kbsyncApiSecret/DoNotLeak+0123456789abcdEFGH"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEKbsyncApiSessionTokenDoNotLeak0123456789"
KEYS = {
    "accessKeyId": "AKIAKBSYNCSECRETS01", "secretAccessKey": SECRET, "sessionToken": SESSION_TOKEN,
}


def test_secrets_reach_no_reply_no_server_output_and_no_database_file(api, console):
    # Used: the sync completes, so the credentials reached (simulated) AWS.
    execution_id = api.start_sync(sync_body(**KEYS))
    assert api.wait_until_final(execution_id)["status"] == "COMPLETADO"
    running_id = api.start_sync(sync_body(**KEYS))
    assert api.post("/api/sync/stop", {"executionId": running_id, **KEYS}).status == 202
    api.wait_until_final(running_id)
    denied = {**KEYS, "accessKeyId": DENIED_ACCESS_KEY_PREFIX + "SECRETS1"}
    # And every other path a body with credentials can take, errors included.
    answers = [
        api.post("/api/sync-history", history_body(**KEYS)).status,
        api.post("/api/sync-history", history_body(**denied)).status,
        api.post("/api/sync-history", history_body(**KEYS, knowledgeBaseId="MISSINGKB2")).status,
        api.post("/api/sync", sync_body(**{**KEYS, "secretAccessKey": SECRET + " x"})).status,
        api.post("/api/sync", sync_body(**{**KEYS, "accessKeyId": "not a key"})).status,
        api.post("/api/sync", sync_body(**KEYS, region="nowhere")).status,
        api.post("/api/sync/stop", {"executionId": execution_id, **KEYS}).status,
        api.post("/api/sync/stop", {"executionId": str(uuid.uuid4()), **KEYS}).status,
        api.post("/api/sync/stop", {"executionId": 1, **KEYS}).status,
    ]
    assert answers == [200, 500, 500, 400, 400, 400, 409, 404, 400]

    for secret in (SECRET, SESSION_TOKEN):
        assert not [body for body in api.received if secret.encode() in body]
        assert secret not in console.output()
        for path in console.data_dir.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


DENIED_ACCESS_KEY_ID = DENIED_ACCESS_KEY_PREFIX + "SHORTKEY"


def test_a_short_secret_leaves_awss_words_whole_and_itself_nowhere(api):
    """An emulator's secret may be a word: it is removed where it stands as one, and words
    that merely contain it ("perform" holds "form") stay whole."""
    denied = {"accessKeyId": DENIED_ACCESS_KEY_ID}
    kept = api.post("/api/sync-history", history_body(**denied, secretAccessKey="form"))
    assert kept.status == 500
    assert "is not authorized to perform: bedrock:ListIngestionJobs" in kept.error
    assert "****" not in kept.error
    removed = api.post("/api/sync-history", history_body(**denied, secretAccessKey="perform"))
    assert removed.status == 500
    assert "is not authorized to ****: bedrock:ListIngestionJobs" in removed.error
    assert "perform" not in removed.error


def test_an_emulators_test_test_keys_are_taken(api):
    reply = api.post("/api/sync-history", history_body(accessKeyId="test", secretAccessKey="test"))
    assert reply.status == 200, reply.json
