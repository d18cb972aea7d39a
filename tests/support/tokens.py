"""API tokens for a running console (tests/support/servers.py): made with
`python -m kbsync tokens create` on its database, and a client that sends one.

    token = create_token(console, "reader", "sync:read")
    client(console, token).post("/api/sync-history", {...})
"""

from tests.api.client import JsonClient
from tests.support.cli import kbsync
from tests.support.servers import RunningServer


def database_url(console: RunningServer) -> str:
    return console.environment["KBSYNC_DATABASE_URL"]


def create_token(console: RunningServer, name: str, scopes: str, *extra: str) -> str:
    made = kbsync("tokens", "create", "--name", name, "--scopes", scopes, *extra,
                  database_url=database_url(console))
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def client(console: RunningServer, token: str | None = None) -> JsonClient:
    return JsonClient(console.url, headers={"Authorization": f"Bearer {token}"} if token else {})
