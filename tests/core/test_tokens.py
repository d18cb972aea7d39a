"""Scoped API tokens in the store, on SQLite and PostgreSQL: made, listed, revoked, checked;
only their hash is kept."""

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from kbsync_core.store import ExecutionStore
from kbsync_core.store.schema import api_tokens_table
from kbsync_core.timefmt import iso_utc, parse_iso, utc_now
from kbsync_core.tokens import CACHE_SECONDS, ApiTokens, TokenError


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(database_url):
    opened = ExecutionStore(database_url)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens(store, clock) -> ApiTokens:
    return ApiTokens(store.tokens, clock=clock)


def stored_rows(store) -> list[dict]:
    with store.engine.connect() as connection:
        return [dict(row) for row in connection.execute(sa.select(api_tokens_table)).mappings()]


def test_a_new_token_has_a_recognisable_prefix_and_authenticates_at_once(tokens):
    token = tokens.create("ci", ["sync:read", "sync:write"], connections=["prod", "staging"])
    assert token.startswith("kbs_") and len(token) > 40
    principal = tokens.authenticate(token)
    assert principal.name == "ci"
    assert principal.allows("sync:read") and principal.allows("sync:write")
    assert not principal.allows("jobs:read")
    assert principal.connections == ("prod", "staging")
    assert tokens.authenticate(token + "x") is None
    assert tokens.authenticate("") is None


def test_listing_shows_everything_but_the_token(tokens):
    token = tokens.create("reader", ["sync:read"], expires_in_days=2)
    tokens.create("admin", ["*"])
    listed = {entry.name: entry for entry in tokens.list()}
    assert set(listed) == {"reader", "admin"}
    assert listed["reader"].scopes == ("sync:read",)
    assert listed["reader"].connections is None
    assert listed["reader"].revoked_at is None
    lifetime = parse_iso(listed["reader"].expires_at) - parse_iso(listed["reader"].created_at)
    assert lifetime.total_seconds() == pytest.approx(2 * 86400, abs=1)
    assert listed["admin"].expires_at is None
    assert token not in repr(tokens.list())


def test_only_a_hash_is_stored(store, tokens, database_url):
    token = tokens.create("secretive", ["*"])
    assert tokens.authenticate(token) is not None  # a use writes too
    rows = stored_rows(store)
    assert len(rows) == 1
    assert token not in repr(rows)
    assert token[len("kbs_") :] not in repr(rows)
    if database_url.startswith("sqlite"):
        store.close()
        path = sa.engine.make_url(database_url).database
        for candidate in (Path(path), Path(f"{path}-wal")):
            data = candidate.read_bytes() if candidate.exists() else b""
            assert token.encode() not in data
            assert token[len("kbs_") :].encode() not in data


def test_a_revoked_token_stops_once_the_cache_is_stale(tokens, clock):
    token = tokens.create("leaky", ["sync:read"])
    assert tokens.authenticate(token) is not None
    tokens.revoke("leaky")
    clock.now += CACHE_SECONDS
    assert tokens.authenticate(token) is None
    assert tokens.list()[0].revoked_at is not None


def test_a_revoked_token_is_refused_by_another_replica_at_once(store, tokens):
    token = tokens.create("leaky", ["sync:read"])
    tokens.revoke("leaky")
    assert ApiTokens(store.tokens).authenticate(token) is None


def test_an_expired_token_is_refused(store, tokens):
    token = tokens.create("short", ["*"], expires_in_days=1)
    assert tokens.authenticate(token) is not None
    past = iso_utc(utc_now().replace(year=2020))
    with store.engine.begin() as connection:
        connection.execute(api_tokens_table.update().values(expires_at=past))
    # Even a principal still in memory is checked against its expiry on every request.
    assert ApiTokens(store.tokens).authenticate(token) is None


def test_the_last_use_is_written_at_most_once_a_minute(store, tokens, clock):
    token = tokens.create("used", ["sync:read"])
    assert tokens.list()[0].last_used_at is None
    tokens.authenticate(token)
    first = tokens.list()[0].last_used_at
    assert first is not None
    clock.now += 30
    tokens.authenticate(token)
    assert tokens.list()[0].last_used_at == first
    # A minute later (the store's last use made a minute older, as the clock's own time):
    a_minute_ago = iso_utc(parse_iso(first) - timedelta(seconds=61))
    with store.engine.begin() as connection:
        connection.execute(api_tokens_table.update().values(last_used_at=a_minute_ago))
    clock.now += 31
    tokens.authenticate(token)
    assert tokens.list()[0].last_used_at > first


@pytest.mark.parametrize("scopes", [["sync:reed"], ["sync:read", "admin"], [], [" "]])
def test_an_unknown_scope_is_refused(tokens, scopes):
    with pytest.raises(TokenError):
        tokens.create("bad", scopes)
    assert tokens.list() == []


def test_a_name_is_unique_even_after_revocation(tokens):
    tokens.create("ci", ["*"])
    tokens.revoke("ci")
    with pytest.raises(TokenError, match="exists already"):
        tokens.create("ci", ["*"])


def test_revoking_an_unknown_name_is_refused(tokens):
    with pytest.raises(TokenError, match="No token"):
        tokens.revoke("nobody")


@pytest.mark.parametrize("days", [0, -1, float("nan"), float("inf")])
def test_a_bad_expiry_is_refused(tokens, days):
    with pytest.raises(TokenError, match="expiry"):
        tokens.create("bad", ["*"], expires_in_days=days)


def test_tokens_are_required_once_one_was_made_even_revoked(store, tokens, clock):
    assert not tokens.required()
    tokens.create("first", ["*"])
    tokens.revoke("first")
    clock.now += CACHE_SECONDS
    assert tokens.required()


def test_the_environment_token_has_every_scope(store):
    tokens = ApiTokens(store.tokens, environment_token="from-the-environment")
    assert tokens.required()
    principal = tokens.authenticate("from-the-environment")
    assert principal.allows("sync:write") and principal.allows("jobs:write")
    assert tokens.authenticate("from-the-environmenT") is None
