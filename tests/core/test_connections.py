"""Connections in the core, on SQLite and PostgreSQL: CRUD, validation, no secret storable,
credentials of each type (a role assumed through the sandbox's STS), and the test call."""

import boto3
import pytest

from kbsync_core.aws import AwsClients, assumed_role_session
from kbsync_core.config import Settings
from kbsync_core.connections import Connections, credentials_for, sandbox_connection_bodies
from kbsync_core.errors import (
    ConnectionExistsError,
    ConnectionInUseError,
    ConnectionInvalidError,
    ConnectionNotFoundError,
    ConnectionTestError,
    SecretRefusedError,
)
from kbsync_core.logsafety import redact_known_secrets
from kbsync_core.models import AwsCredentials
from kbsync_core.store import ExecutionStore

ROLE_ARN = "arn:aws:iam::123456789012:role/kbsync-reader"


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


@pytest.fixture
def store(database_url):
    store = ExecutionStore(database_url)
    yield store
    store.close()


@pytest.fixture
def connections(store) -> Connections:
    return Connections(store.connections, AwsClients(Settings(aws_max_attempts=1)))


def test_create_get_list_update_delete(connections):
    made = connections.create(body())
    assert made.to_dict()["credentials"] == {"type": "default"}
    assert connections.get("orders-kb") == made
    connections.create(body(id="a-first", name="First"))
    assert [c.id for c in connections.list()] == ["a-first", "orders-kb"]
    assert [c.id for c in connections.list(visible=["orders-kb"])] == ["orders-kb"]
    changed = connections.update(
        "orders-kb", body(id=None, name="Orders (prod)",
                          credentials={"type": "profile", "profile": "prod"})
    )
    assert changed.name == "Orders (prod)"
    assert changed.created_at == made.created_at
    assert connections.get("orders-kb").credentials == {"type": "profile", "profile": "prod"}
    connections.delete("orders-kb")
    with pytest.raises(ConnectionNotFoundError):
        connections.get("orders-kb")
    with pytest.raises(ConnectionNotFoundError):
        connections.delete("orders-kb")


def test_an_id_is_taken_once(connections):
    connections.create(body())
    with pytest.raises(ConnectionExistsError):
        connections.create(body(name="Other"))


def test_a_limited_caller_sees_no_other_connection(connections):
    connections.create(body())
    with pytest.raises(ConnectionNotFoundError):
        connections.get("orders-kb", visible=["other"])
    with pytest.raises(ConnectionNotFoundError):
        connections.update("orders-kb", body(), visible=["other"])
    with pytest.raises(ConnectionNotFoundError):
        connections.delete("orders-kb", visible=["other"])
    assert connections.list(visible=["other"]) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": "Orders_KB"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"name": ""}, "name"),
        ({"region": "mars"}, "region"),
        ({"knowledgeBaseId": "short"}, "knowledgeBaseId"),
        ({"dataSourceId": None}, "dataSourceId"),
        ({"credentials": None}, "credentials"),
        ({"credentials": {"type": "keys"}}, "credentials.type"),
        ({"credentials": {"type": "profile"}}, "credentials.profile"),
        ({"credentials": {"type": "role", "roleArn": "arn:nope"}}, "credentials.roleArn"),
        ({"credentials": {"type": "default", "profile": "x"}}, "credentials.profile"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_bodies_name_the_field(connections, overrides, field):
    with pytest.raises(ConnectionInvalidError) as raised:
        connections.create(body(**overrides))
    assert raised.value.field == field
    assert field in raised.value.message


@pytest.mark.parametrize(
    "overrides",
    [
        {"secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
        {"credentials": {"type": "role", "roleArn": ROLE_ARN, "sessionToken": "FwoG-x"}},
        {"credentials": {"type": "default", "nested": [{"aws_secret_access_key": "s3cr3t"}]}},
        {"extra": {"password": "hunter2"}},
        {"credentials": {"type": "profile", "profile": "p", "secret": "x"}},
    ],
)
def test_no_secret_can_be_stored(connections, store, overrides):
    with pytest.raises(SecretRefusedError) as raised:
        connections.create(body(**overrides))
    assert "never stores secrets" in raised.value.message
    for value in ("wJalrXUtnFEMI", "FwoG-x", "s3cr3t", "hunter2"):
        assert value not in raised.value.message
    assert connections.list() == []


def test_credentials_for_each_type(connections):
    default = connections.create(body())
    profile = connections.create(
        body(id="p", credentials={"type": "profile", "profile": "prod"})
    )
    role = connections.create(
        body(id="r", credentials={"type": "role", "roleArn": ROLE_ARN, "externalId": "ext-1",
                                  "sessionName": "kbsync-test"})
    )
    assert credentials_for(default).profile_name is None
    assert not credentials_for(default).is_explicit
    assert credentials_for(profile).profile_name == "prod"
    role_credentials = credentials_for(role)
    assert (role_credentials.role_arn, role_credentials.external_id,
            role_credentials.role_session_name) == (ROLE_ARN, "ext-1", "kbsync-test")
    assert not role_credentials.is_explicit


def test_a_role_is_assumed_through_sts_and_refreshed(connections, sandboxed):
    role = connections.create(body(credentials={"type": "role", "roleArn": ROLE_ARN}))
    server_key = boto3.Session().get_credentials().get_frozen_credentials().access_key
    # 15 minutes: inside botocore's advisory refresh window, so each read assumes it again.
    session = assumed_role_session(credentials_for(role), "us-east-1", duration_seconds=900)
    first = session.get_credentials().get_frozen_credentials()
    assert first.access_key != server_key
    assert first.token
    second = session.get_credentials().get_frozen_credentials()
    assert second.access_key != first.access_key
    # The log redaction knows the keys of the two latest answers, not every one ever issued.
    third = session.get_credentials().get_frozen_credentials()
    assert redact_known_secrets(third.secret_key) != third.secret_key
    assert redact_known_secrets(second.secret_key) != second.secret_key
    assert redact_known_secrets(first.secret_key) == first.secret_key
    # And a role connection's clients work: the test answers through the assumed role.
    assert connections.test("orders-kb")["ok"] is True


def test_test_answers_names_type_and_bucket(connections, sandboxed):
    connections.create(body())
    answer = connections.test("orders-kb")
    assert answer["knowledgeBase"]["name"]
    assert answer["knowledgeBase"]["status"] == "ACTIVE"
    assert answer["dataSource"]["name"] == "ops-handbook"
    assert answer["dataSource"]["type"] == "S3"
    assert answer["dataSource"]["bucket"].startswith("kbsync-sandbox")
    assert answer["dataSource"]["inclusionPrefixes"] == []


def test_test_names_the_failing_call(connections, sandboxed):
    connections.create(body(knowledgeBaseId="UNKNOWNKB1"))
    with pytest.raises(ConnectionTestError) as raised:
        connections.test("orders-kb")
    assert raised.value.call == "GetKnowledgeBase"
    assert "GetKnowledgeBase failed on knowledge base UNKNOWNKB1" in str(raised.value)
    assert "ResourceNotFoundException" in str(raised.value)
    connections.create(body(id="ds", dataSourceId="UNKNOWNDS1"))
    with pytest.raises(ConnectionTestError) as raised:
        connections.test("ds")
    assert raised.value.call == "GetDataSource"


def test_the_sandbox_connections_are_valid(connections):
    for payload in sandbox_connection_bodies():
        assert connections.ensure(payload) is True
        assert connections.ensure(payload) is False
    assert [c.target.data_source_id for c in connections.list()] == [
        "SANDBOXDS1", "SANDBOXDS3", "SANDBOXDS2",
    ]


def test_a_run_from_a_connection_is_taken_over_with_its_credentials(
    connections, store, sandboxed
):
    from kbsync_core.connections import credentials_for as resolve
    from kbsync_core.sync import CREDENTIALS_FROM_CONNECTION, SyncEngine
    from kbsync_core.validation import SyncRequest

    connection = connections.create(
        body(credentials={"type": "profile", "profile": "kbsync-test-profile"})
    )
    settings = Settings(poll_seconds=0.02, aws_max_attempts=1)
    # No ambient credentials at all: a connection's are resolved all the same.
    engine = SyncEngine(
        settings, store, takeover_credentials=None,
        connection_credentials=connections.credentials_by_id,
    )
    try:
        request = SyncRequest(
            connection.target, AwsCredentials(), "from a connection", connection.id
        )
        execution = engine.start_sync(request)
        run = store.runs.get(execution.id)
        assert (run.credential_source, run.connection_id) == (
            CREDENTIALS_FROM_CONNECTION, "orders-kb"
        )
        assert store.connection_of(execution.id) == "orders-kb"
        assert engine._takeover_credentials(run) == resolve(connection)
        # While its run has not ended the connection stays: a takeover needs its credentials.
        with pytest.raises(ConnectionInUseError) as raised:
            connections.delete("orders-kb")
        assert execution.id in str(raised.value)
        assert connections.get("orders-kb") == connection
        engine.wait(execution.id, 10)
        connections.delete("orders-kb")
        assert engine._takeover_credentials(run) is None
    finally:
        engine.close()
