"""A connection's run outlives its replica: taken over with the connection's identity alone.

Two consoles (KBSYNC_BACKEND=aws) share one PostgreSQL database and a sandbox server of this
module's own, which also answers STS (moto assumes any role). Unlike tests/api/test_replicas.py,
KBSYNC_ALLOW_AMBIENT_CREDENTIALS is NOT set: a run started with an operator's keys could not be
taken over, but a run started from a connection is, with the role the connection names.
"""

import time

import pytest

from tests.api.client import JsonClient
from tests.api.conftest import SandboxControl
from tests.support.cli import kbsync
from tests.support.replicas import (
    LOG_TAKEN_OVER,
    TAKEOVER_LIMIT_SECONDS,
    Replica,
    first_poll_by,
    owner_of,
    polls_of,
    replica_consoles,
    tail,
)
from tests.support.servers import start_sandbox_server

# The consoles' own identity: the one the role is assumed from.
SERVER_ACCESS_KEY_ID = "AKIAKBSYNCCONNSERVER"
SERVER_SECRET_ACCESS_KEY = "connection-server-secret-0123456789abcdef"
ROLE_ARN = "arn:aws:iam::123456789012:role/kbsync-test"
CONNECTION = {
    "id": "takeover-kb",
    "name": "Takeover",
    "region": "us-east-1",
    "knowledgeBaseId": "SANDBOXKB1",
    "dataSourceId": "SANDBOXDS1",
    "credentials": {"type": "role", "roleArn": ROLE_ARN},
}


@pytest.fixture(scope="module")
def takeover_sandbox(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("connection-takeover-sandbox")
    with start_sandbox_server(log_dir, speed=1.0, name="connection-takeover-sandbox") as running:
        yield running


@pytest.fixture(scope="module")
def control(takeover_sandbox) -> SandboxControl:
    return SandboxControl(takeover_sandbox.url)


@pytest.fixture(scope="module")
def consoles(tmp_path_factory, postgres_server, takeover_sandbox):
    """Replicas A and B on a fresh database, with a token of every scope; all dropped after."""
    environment = {
        "AWS_ACCESS_KEY_ID": SERVER_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SERVER_SECRET_ACCESS_KEY,
    }
    with replica_consoles(
        tmp_path_factory, postgres_server, takeover_sandbox.url, environment,
        names=("conn-replica-a", "conn-replica-b"),
    ) as (database_url, *servers):
        made = kbsync("tokens", "create", "--name", "t", "--scopes", "*",
                      database_url=database_url)
        assert made.returncode == 0, made.stderr
        bearer = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        replicas = tuple(Replica(server) for server in servers)
        for replica in replicas:
            replica.api = JsonClient(replica.server.url, headers=bearer)
        yield replicas


def test_a_connections_run_is_taken_over_with_the_connections_role(consoles, control):
    a, b = consoles
    try:
        created = a.api.post("/api/connections", CONNECTION)
        assert created.status == 201, (created.status, created.json)
        assert b.api.get(f"/api/connections/{CONNECTION['id']}").status == 200

        execution_id = a.api.start_sync(
            {"connectionId": CONNECTION["id"], "description": "Connection takeover"}
        )
        running = a.api.wait_for(
            execution_id, lambda execution: execution["status"] == "EN_EJECUCION"
        )
        job_id = running["jobId"]
        assert job_id
        by_a = first_poll_by(control, job_id, a, since=0.0, timeout=10)
        # A polls with the role's temporary keys, not with the server's own.
        assert by_a["accessKeyId"] != SERVER_ACCESS_KEY_ID

        killed_at = time.time()
        a.server.kill()
        dead_at = time.time()
        first = first_poll_by(
            control, job_id, b, since=killed_at, timeout=TAKEOVER_LIMIT_SECONDS + 10
        )

        takeover_seconds = first["at"] - killed_at
        print(f"takeover of a connection's run: {takeover_seconds:.2f} s after the kill")
        assert takeover_seconds <= TAKEOVER_LIMIT_SECONDS, tail(b.server)
        # The role, assumed by B: temporary keys, not the server's own identity.
        assert first["accessKeyId"] != SERVER_ACCESS_KEY_ID
        assert first["accessKeyId"]
        b_owner = owner_of(first)
        assert b_owner is not None and b_owner != owner_of(by_a)
        taken = b.api.wait_for(
            execution_id,
            lambda execution: any(LOG_TAKEN_OVER in line for line in execution["logs"]),
        )
        assert taken["status"] == "EN_EJECUCION"

        control.finish_running_jobs()
        ended = b.api.wait_until_final(execution_id)

        assert ended["status"] == "COMPLETADO", ended["logs"]
        assert {owner_of(call) for call in polls_of(control, job_id, since=dead_at)} == {b_owner}
        assert all(
            call["accessKeyId"] != SERVER_ACCESS_KEY_ID
            for call in polls_of(control, job_id, since=first["at"])
        )
    finally:
        print(f"---- {b.server.name} (last output) ----\n{tail(b.server)}")
        control.finish_running_jobs()
