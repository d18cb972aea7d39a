"""`python -m kbsync tokens create|list|revoke`: the token printed once, last; errors exit 2."""

import pytest

from kbsync_core.store import ExecutionStore
from kbsync_core.tokens import ApiTokens
from tests.support.cli import kbsync


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/kbsync.sqlite3"


def create(url: str, *arguments: str) -> str:
    made = kbsync("tokens", "create", *arguments, database_url=url)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def authenticate(url: str, token: str):
    store = ExecutionStore(url)
    try:
        return ApiTokens(store.tokens).authenticate(token)
    finally:
        store.close()


def test_create_prints_the_token_as_its_last_line(url):
    token = create(
        url, "--name", "ci", "--scopes", "sync:read,sync:write", "--connections", "prod,qa"
    )
    assert token.startswith("kbs_")
    principal = authenticate(url, token)
    assert principal.name == "ci"
    assert principal.scopes == {"sync:read", "sync:write"}
    assert principal.connections == ("prod", "qa")


def test_create_on_a_new_postgresql_database(postgres_url):
    token = create(postgres_url, "--name", "ci", "--scopes", "*")
    assert authenticate(postgres_url, token).allows("jobs:write")


def test_list_shows_every_token_but_never_the_token(url):
    token = create(url, "--name", "reader", "--scopes", "sync:read", "--expires-in", "0.5")
    authenticate(url, token)
    listed = kbsync("tokens", "list", database_url=url)
    assert listed.returncode == 0, listed.stderr
    line = listed.stdout.strip()
    assert line.startswith("reader ")
    for field in ("scopes=sync:read", "connections=all", "created=2", "expires=2",
                  "last-used=2", "revoked=no"):
        assert field in line
    assert token not in listed.stdout + listed.stderr
    assert token[len("kbs_") :] not in listed.stdout


def test_revoke_refuses_the_token(url):
    token = create(url, "--name", "leaky", "--scopes", "*")
    revoked = kbsync("tokens", "revoke", "leaky", database_url=url)
    assert revoked.returncode == 0, revoked.stderr
    assert authenticate(url, token) is None
    assert "revoked=20" in kbsync("tokens", "list", database_url=url).stdout


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["create", "--name", "x", "--scopes", "sync:read,root"], "Unknown scope 'root'"),
        (["create", "--name", "taken", "--scopes", "*"], "exists already"),
        (["revoke", "nobody"], "No token is named 'nobody'"),
        (["create", "--name", "x", "--scopes", "*", "--expires-in", "soon"], "number of days"),
        (["create", "--name", "x", "--scopes", "*", "--expires-in", "-1"], "positive"),
    ],
)
def test_errors_exit_2_with_one_line(url, arguments, says):
    create(url, "--name", "taken", "--scopes", "*")
    refused = kbsync("tokens", *arguments, database_url=url)
    assert refused.returncode == 2
    assert says in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "Traceback" not in refused.stderr
    assert refused.stdout == ""
    assert [line.split()[0] for line in
            kbsync("tokens", "list", database_url=url).stdout.splitlines()] == ["taken"]
