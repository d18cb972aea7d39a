"""A failure inside kbsync (here, a database that lost a table) is a JSON 500 that names the
kind of failure only: the details go to the server's log, without the request's secrets."""

import sqlite3

import pytest

from tests.api.client import JsonClient, wait_until
from tests.api.conftest import history_body, sync_body
from tests.support.servers import start_console

SECRET = "kbsyncInternalErrorSecret/DoNotLeak+0123456789"
INTERNAL_ERROR = "Internal error in kbsync (OperationalError); the server's log has the details."


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    with start_console(tmp_path_factory.mktemp("broken"), name="broken") as running:
        client = JsonClient(running.url)
        client.wait_until_final(client.start_sync(sync_body()))
        # An execution this process has not served yet (GET /api/sync keeps what it served):
        # seen to end through the history, which reads the store.
        execution_id = client.start_sync(sync_body())
        wait_until(
            lambda: any(
                row["id"] == execution_id and "finishedAt" in row
                for row in client.post("/api/sync-history", history_body()).json["executions"]
            ),
            what="the second sync to end",
        )
        database = sqlite3.connect(running.data_dir / "kbsync.sqlite3")
        with database:
            database.execute("DROP TABLE execution_logs")
        database.close()
        yield running, execution_id


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/api/sync", sync_body(secretAccessKey=SECRET)),
        ("POST", "/api/sync-history", history_body(secretAccessKey=SECRET)),
    ],
)
def test_an_internal_failure_is_a_json_500_without_details(broken, method, path, payload):
    server, _ = broken
    reply = JsonClient(server.url).request(method, path, payload)
    assert (reply.status, reply.json) == (500, {"error": INTERNAL_ERROR})
    output = server.output()
    assert "no such table: execution_logs" in output, "the details are in the server's log"
    assert SECRET not in output


def test_reading_an_execution_from_a_broken_store_is_a_500(broken):
    server, execution_id = broken
    reply = JsonClient(server.url).get("/api/sync", executionId=execution_id)
    assert (reply.status, reply.json) == (500, {"error": INTERNAL_ERROR})
