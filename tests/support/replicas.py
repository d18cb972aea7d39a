"""Two kbsync consoles on one fresh PostgreSQL database, as replicas behind a load balancer.

    with replica_consoles(tmp_path_factory, postgres_server, sandbox.url, {...}) as (url, a, b):
        ...                                   # KBSYNC_BACKEND=aws against the sandbox server

They run with KBSYNC_BACKEND=aws against a standalone sandbox server (bedrock-agent and STS), a
short lease and poll, and a fake identity of the server's own. The database is dropped once
both are stopped.

And what the takeover tests read: which replica made each call the sandbox logged (every AWS
call of a replica carries `kbsync/<hostname>-<pid>-<8 hex>`, its owner id, in its User-Agent),
when one first polled a job, the end of a replica's output.
"""

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.api.client import JsonClient, wait_until
from tests.support.servers import RunningServer, start_console

if TYPE_CHECKING:
    from tests.api.conftest import SandboxControl

REPLICA_LEASE_SECONDS = 2
REPLICA_POLL_SECONDS = 0.2
# A killed replica's lease was renewed at most one keeper turn before the kill, so the other
# sees it expired within a lease period and claims it at its next sweep: two lease periods
# are plenty, plus a margin for a busy 2-core machine.
TAKEOVER_LIMIT_SECONDS = 2 * REPLICA_LEASE_SECONDS + 1.5
LOG_TAKEN_OVER = "dejó de responder"

# kbsync/<hostname>-<pid>-<8 hex> in a User-Agent.
OWNER_PATTERN = re.compile(r"\bkbsync/(\S+-(\d+)-[0-9a-f]{8})(?:\s|$)")


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


@dataclass
class Replica:
    server: RunningServer
    api: JsonClient = field(init=False)

    def __post_init__(self) -> None:
        self.api = JsonClient(self.server.url)

    @property
    def pid(self) -> int:
        return self.server.process.pid


def owner_of(call: dict) -> str | None:
    """The owner id of the kbsync replica that made a logged call (None: not kbsync's)."""
    match = OWNER_PATTERN.search(call["userAgent"])
    return match.group(1) if match else None


def pid_of(call: dict) -> int | None:
    match = OWNER_PATTERN.search(call["userAgent"])
    return int(match.group(2)) if match else None


def polls_of(control: "SandboxControl", job_id: str, since: float = 0.0) -> list[dict]:
    """The replicas' GetIngestionJob calls for `job_id` that the sandbox received at or after
    `since` (unix time); not the test's own (SandboxControl.job)."""
    return [
        call
        for call in control.calls("GetIngestionJob")
        if call["parameters"].get("ingestionJobId") == job_id
        and call["at"] >= since
        and owner_of(call) is not None
    ]


def first_poll_by(
    control: "SandboxControl", job_id: str, replica: Replica, since: float, timeout: float
) -> dict:
    found: list[dict] = []

    def polled() -> bool:
        found[:] = [c for c in polls_of(control, job_id, since) if pid_of(c) == replica.pid]
        return bool(found)

    wait_until(polled, timeout, f"replica pid {replica.pid} polls job {job_id}")
    return found[0]


def tail(server: RunningServer, chars: int = 6000) -> str:
    return server.output()[-chars:]
