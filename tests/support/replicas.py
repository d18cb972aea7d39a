"""Two kbsync consoles on one fresh PostgreSQL database, as replicas behind a load balancer.

    with replica_consoles(tmp_path_factory, postgres_server, sandbox.url, {...}) as (url, a, b):
        ...                                   # KBSYNC_BACKEND=aws against the sandbox server

They run with KBSYNC_BACKEND=aws against a standalone sandbox server (bedrock-agent and STS), a
short lease and poll, and a fake identity of the server's own. The database is dropped once
both are stopped.
"""

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from tests.support.servers import RunningServer, start_console

REPLICA_LEASE_SECONDS = 2
REPLICA_POLL_SECONDS = 0.2


@contextmanager
def replica_consoles(
    tmp_path_factory,
    postgres_server,
    sandbox_url: str,
    environment: Mapping[str, str],
    names: tuple[str, str] = ("replica-a", "replica-b"),
) -> Iterator[tuple[str, RunningServer, RunningServer]]:
    """(database url, replica A, replica B); `environment` adds to or overrides the common one
    (the server's identity, KBSYNC_ALLOW_AMBIENT_CREDENTIALS...)."""
    database = f"replicas_{uuid.uuid4().hex[:8]}"
    database_url = postgres_server.create_database(database)
    common = {
        "KBSYNC_BACKEND": "aws",
        "KBSYNC_DATABASE_URL": database_url,
        "KBSYNC_LEASE_SECONDS": str(REPLICA_LEASE_SECONDS),
        "KBSYNC_POLL_SECONDS": str(REPLICA_POLL_SECONDS),
        "AWS_ENDPOINT_URL_BEDROCK_AGENT": sandbox_url,
        "AWS_ENDPOINT_URL_STS": sandbox_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        **environment,
    }
    servers: list[RunningServer] = []
    try:
        # One after the other: the first creates the schema.
        for name in names:
            servers.append(start_console(tmp_path_factory.mktemp(name), common, name=name))
        yield database_url, servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        postgres_server.drop_database(database)
