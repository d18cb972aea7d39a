"""Connections: saved targets (region, knowledge base, data source) acting with the server's
own identity (DESIGN.md, "Credentials and identity").

A connection's credentials say where the identity comes from, never what it is:
`{"type": "default"}` (boto3's default chain), `{"type": "profile", "profile": "..."}`, or
`{"type": "role", "roleArn": "...", "externalId": "...", "sessionName": "..."}` (a role assumed
with STS from the server's identity, its keys refreshed by botocore before they expire). A
body that carries anything named like a secret is refused: kbsync never stores one.

Connections are the server's identity by design: any replica resolves a connection's
credentials, whether or not KBSYNC_ALLOW_AMBIENT_CREDENTIALS lends the server's identity to
requests that carry no keys. Who may use them is the API tokens' business (scopes, and the
connections a token is limited to): `visible` below is a token's list, None for all.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kbsync_core.aws import AwsClients, aws_errors_explained
from kbsync_core.errors import (
    AwsRequestError,
    ConnectionExistsError,
    ConnectionInUseError,
    ConnectionInvalidError,
    ConnectionNotFoundError,
    ConnectionSchedulesError,
    ConnectionTestError,
    SecretRefusedError,
)
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.s3_source import bucket_of
from kbsync_core.store.connections import (
    ConnectionHasRunsError,
    ConnectionHasSchedulesError,
    ConnectionIdTakenError,
    ConnectionRecord,
    ConnectionStore,
)
from kbsync_core.timefmt import iso_utc, utc_now
from kbsync_core.validation import (
    PROFILE_NAME_PATTERN,
    TARGET_FIELDS,
    RequestValidationError,
    is_text,
    validate_target,
)

CONNECTION_ID_PATTERN = re.compile(r"^[a-z0-9-]{1,64}$")
NAME_MAX_LENGTH = 200
# IAM's own patterns: a role ARN in any partition, an STS external id and session name.
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
SESSION_NAME_PATTERN = re.compile(r"^[\w+=,.@-]{2,64}$")

CREDENTIAL_TYPES = ("default", "profile", "role")
FIELDS = ("id", "name", *TARGET_FIELDS, "credentials")
CREDENTIAL_FIELDS = {
    "default": ("type",),
    "profile": ("type", "profile"),
    "role": ("type", "roleArn", "externalId", "sessionName"),
}
# A key whose name, lower-cased without separators, holds one of these names a secret.
SECRET_NAME_PARTS = ("secret", "password", "sessiontoken", "privatekey")
SECRET_REFUSED = (
    "{path} looks like a secret, and kbsync never stores secrets: use a profile "  # noqa: S105
    '({{"type": "profile", "profile": "..."}}) or a role ({{"type": "role", "roleArn": '
    '"..."}}) that the server\'s own identity can use.'
)

# The sandbox's connections (kbsync_sandbox.constants names the resources).
SANDBOX_CONNECTIONS = (
    ("sandbox", "Sandbox handbook", "SANDBOXDS1"),
    ("sandbox-failing", "Sandbox support archive (its syncs fail)", "SANDBOXDS2"),
    # A CUSTOM data source: records go in by IngestKnowledgeBaseDocuments, never by a sync.
    ("sandbox-custom", "Sandbox custom documents (direct ingestion)", "SANDBOXDS3"),
)


@dataclass(frozen=True)
class Connection:
    id: str
    name: str
    target: SyncTarget
    credentials: dict
    created_at: str
    updated_at: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "region": self.target.region,
            "knowledgeBaseId": self.target.knowledge_base_id,
            "dataSourceId": self.target.data_source_id,
            "credentials": dict(self.credentials),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass(frozen=True)
class ConnectionSpec:
    """A checked connection body: what create and update write."""

    id: str
    name: str
    target: SyncTarget
    credentials: dict


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_secret(value: Any, path: str = "") -> str | None:
    """The path of the first key anywhere in `value` (nested objects and lists included) whose
    name says it holds a secret; None when there is none. Only names are looked at, never
    values, so no message ever repeats one."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and any(part in _normalised(key) for part in SECRET_NAME_PARTS):
                return where
            found = find_secret(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_secret(item, f"{path}[{index}]")
            if found:
                return found
    return None


def refuse_secrets(payload: Any) -> None:
    where = find_secret(payload)
    if where is not None:
        raise SecretRefusedError(SECRET_REFUSED.format(path=where), where)


def _text(payload: Mapping, name: str, *, label: str | None = None) -> str | None:
    value = payload.get(name)
    label = label or name
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ConnectionInvalidError(f"{label} must be a string.", label)
    if not is_text(value):
        raise ConnectionInvalidError(f"{label} is not valid text.", label)
    return value.strip()


def _matching(payload: Mapping, name: str, pattern: re.Pattern, explanation: str, label: str):
    value = _text(payload, name, label=label)
    if value is not None and not pattern.fullmatch(value):
        raise ConnectionInvalidError(f"{label} {explanation}", label)
    return value


def validate_credential_source(value: Any) -> dict:
    """The credential source as stored: only the fields its type has, none empty."""
    if not isinstance(value, Mapping):
        raise ConnectionInvalidError(
            'credentials is required: an object such as {"type": "default"}.', "credentials"
        )
    refuse_secrets({"credentials": value})
    kind = value.get("type")
    if kind not in CREDENTIAL_TYPES:
        raise ConnectionInvalidError(
            f"credentials.type must be one of {', '.join(CREDENTIAL_TYPES)}.", "credentials.type"
        )
    unknown = sorted(set(value) - set(CREDENTIAL_FIELDS[kind]))
    if unknown:
        raise ConnectionInvalidError(
            f"credentials.{unknown[0]} is not a field of a {kind} credential source; it has "
            f"{', '.join(CREDENTIAL_FIELDS[kind])}.",
            f"credentials.{unknown[0]}",
        )
    source = {"type": kind}
    if kind == "profile":
        profile = _matching(
            value, "profile", PROFILE_NAME_PATTERN, "is not a profile name.", "credentials.profile"
        )
        if profile is None:
            raise ConnectionInvalidError(
                "credentials.profile is required for a profile.", "credentials.profile"
            )
        source["profile"] = profile
    elif kind == "role":
        role_arn = _matching(
            value, "roleArn", ROLE_ARN_PATTERN,
            "must be an IAM role ARN such as arn:aws:iam::123456789012:role/kbsync.",
            "credentials.roleArn",
        )
        if role_arn is None:
            raise ConnectionInvalidError(
                "credentials.roleArn is required for a role.", "credentials.roleArn"
            )
        source["roleArn"] = role_arn
        external_id = _matching(
            value, "externalId", EXTERNAL_ID_PATTERN,
            "must be 2 to 1224 letters, digits or +=,.@:/-.", "credentials.externalId",
        )
        session_name = _matching(
            value, "sessionName", SESSION_NAME_PATTERN,
            "must be 2 to 64 letters, digits or +=,.@-.", "credentials.sessionName",
        )
        if external_id:
            source["externalId"] = external_id
        if session_name:
            source["sessionName"] = session_name
    return source


def validate(payload: Any, *, connection_id: str | None = None) -> ConnectionSpec:
    """A connection body checked: every problem is a ConnectionInvalidError naming its field
    (SecretRefusedError for a secret, before anything else is looked at). `connection_id` is
    the id an update is for: the body may omit it, or must repeat it."""
    if not isinstance(payload, Mapping):
        raise ConnectionInvalidError("The request body must be a JSON object.")
    refuse_secrets(payload)
    unknown = sorted(str(name) for name in set(payload) - set(FIELDS) - {"createdAt", "updatedAt"})
    if unknown:
        raise ConnectionInvalidError(
            f"{unknown[0]} is not a field of a connection; it has {', '.join(FIELDS)}.",
            unknown[0],
        )
    given_id = _text(payload, "id")
    if connection_id is not None and given_id not in (None, connection_id):
        raise ConnectionInvalidError("id cannot change; create a new connection instead.", "id")
    identifier = given_id or connection_id
    if identifier is None:
        raise ConnectionInvalidError("id is required.", "id")
    if not CONNECTION_ID_PATTERN.fullmatch(identifier):
        raise ConnectionInvalidError(
            "id must be 1 to 64 lowercase letters, digits or hyphens, such as orders-kb.", "id"
        )
    name = _text(payload, "name")
    if name is None:
        raise ConnectionInvalidError("name is required.", "name")
    if len(name) > NAME_MAX_LENGTH or not name.isprintable():
        raise ConnectionInvalidError(
            f"name must be 1 to {NAME_MAX_LENGTH} printable characters.", "name"
        )
    for field in TARGET_FIELDS:
        if _text(payload, field) is None:
            raise ConnectionInvalidError(f"{field} is required.", field)
    try:
        target = validate_target(payload)
    except RequestValidationError as error:
        raise ConnectionInvalidError(error.message, error.field) from None
    credentials = validate_credential_source(payload.get("credentials"))
    return ConnectionSpec(identifier, name, target, credentials)


def credentials_for(connection: Connection) -> AwsCredentials:
    """Where boto3 gets the connection's credentials: nothing secret, resolved at each use."""
    source = connection.credentials
    kind = source.get("type")
    if kind == "profile":
        return AwsCredentials(profile_name=source["profile"])
    if kind == "role":
        return AwsCredentials(
            role_arn=source["roleArn"],
            external_id=source.get("externalId"),
            role_session_name=source.get("sessionName"),
        )
    return AwsCredentials()


class Connections:
    """The connections of one store: made, read, changed, deleted and tested."""

    def __init__(self, store: ConnectionStore, clients: AwsClients):
        self._store = store
        self._clients = clients

    # -- reading -----------------------------------------------------------------------------

    def list(self, visible: Iterable[str] | None = None) -> list[Connection]:
        allowed = None if visible is None else set(visible)
        return [
            _connection(record)
            for record in self._store.all()
            if allowed is None or record.id in allowed
        ]

    def get(self, connection_id: str, visible: Iterable[str] | None = None) -> Connection:
        """The connection; ConnectionNotFoundError if there is none, or `visible` lacks it
        (the same answer: a limited caller learns nothing of the others)."""
        if visible is not None and connection_id not in set(visible):
            raise ConnectionNotFoundError(connection_id)
        record = self._store.get(connection_id) if isinstance(connection_id, str) else None
        if record is None:
            raise ConnectionNotFoundError(connection_id)
        return _connection(record)

    def credentials_by_id(self, connection_id: str | None) -> AwsCredentials | None:
        """A connection's credentials, None when it is gone (SyncEngine's takeovers)."""
        if connection_id is None:
            return None
        record = self._store.get(connection_id)
        return credentials_for(_connection(record)) if record else None

    # -- writing -----------------------------------------------------------------------------

    def create(self, payload: Any, visible: Iterable[str] | None = None) -> Connection:
        spec = validate(payload)
        if visible is not None and spec.id not in set(visible):
            # A limited token cannot make a connection it could not then see.
            raise ConnectionInvalidError(
                f"This token is limited to the connections {', '.join(visible)}.", "id"
            )
        now = iso_utc(utc_now())
        record = _record(spec, now, now)
        try:
            self._store.insert(record)
        except ConnectionIdTakenError:
            raise ConnectionExistsError(
                f"A connection with id {spec.id!r} exists already."
            ) from None
        return _connection(record)

    def update(
        self, connection_id: str, payload: Any, visible: Iterable[str] | None = None
    ) -> Connection:
        existing = self.get(connection_id, visible)
        spec = validate(payload, connection_id=connection_id)
        record = _record(spec, existing.created_at, iso_utc(utc_now()))
        if not self._store.update(record):
            raise ConnectionNotFoundError(connection_id)
        return _connection(record)

    def delete(self, connection_id: str, visible: Iterable[str] | None = None) -> None:
        self.get(connection_id, visible)
        try:
            deleted = self._store.delete(connection_id)
        except ConnectionHasRunsError as busy:
            raise ConnectionInUseError(connection_id, busy.run_ids) from None
        except ConnectionHasSchedulesError as scheduled:
            raise ConnectionSchedulesError(connection_id, scheduled.names) from None
        if not deleted:
            raise ConnectionNotFoundError(connection_id)

    def ensure(self, payload: Mapping) -> bool:
        """Create the connection unless one has its id; True if it was created."""
        try:
            self.create(payload)
        except ConnectionExistsError:
            return False
        return True

    # -- testing -----------------------------------------------------------------------------

    def test(self, connection_id: str, visible: Iterable[str] | None = None) -> dict:
        """GetKnowledgeBase and GetDataSource with the connection's credentials: names,
        statuses, the data source's type and, for S3, its bucket and inclusion prefixes.

        ConnectionTestError names the call that failed, with AWS's code and words.
        """
        connection = self.get(connection_id, visible)
        target = connection.target
        credentials = credentials_for(connection)
        acting_as = _acting_as(connection.credentials)
        with self._failing_call("GetKnowledgeBase", credentials, target, acting_as):
            client = self._clients.bedrock_agent(credentials, target.region)
            base = client.get_knowledge_base(knowledgeBaseId=target.knowledge_base_id)[
                "knowledgeBase"
            ]
        with self._failing_call("GetDataSource", credentials, target, acting_as):
            source = client.get_data_source(
                knowledgeBaseId=target.knowledge_base_id, dataSourceId=target.data_source_id
            )["dataSource"]
        configuration = source.get("dataSourceConfiguration") or {}
        s3 = configuration.get("s3Configuration") or {}
        data_source = {
            "id": target.data_source_id,
            "name": source.get("name"),
            "status": source.get("status"),
            "type": configuration.get("type"),
        }
        if s3:
            data_source["bucket"] = bucket_of(s3.get("bucketArn"))
            data_source["inclusionPrefixes"] = list(s3.get("inclusionPrefixes") or [])
        return {
            "ok": True,
            "connectionId": connection.id,
            "knowledgeBase": {
                "id": target.knowledge_base_id,
                "name": base.get("name"),
                "status": base.get("status"),
            },
            "dataSource": data_source,
        }

    @staticmethod
    def _failing_call(call: str, credentials: AwsCredentials, target: SyncTarget, acting: str):
        return _ExplainedCall(call, credentials, target, acting)


class _ExplainedCall:
    """aws_errors_explained, then the call's name and what it needs, for an operator."""

    def __init__(self, call: str, credentials: AwsCredentials, target: SyncTarget, acting: str):
        self._call = call
        self._target = target
        self._acting = acting
        self._explained = aws_errors_explained(credentials)

    def __enter__(self):
        self._explained.__enter__()

    def __exit__(self, *exc_info):
        try:
            return self._explained.__exit__(*exc_info)
        except AwsRequestError as error:
            what = f"knowledge base {self._target.knowledge_base_id}"
            if self._call == "GetDataSource":
                what = f"data source {self._target.data_source_id} of {what}"
            message = (
                f"{self._call} failed on {what} in {self._target.region}, acting as "
                f"{self._acting} (it needs bedrock:{self._call} on it): {error}"
            )
            raise ConnectionTestError(message, self._call) from None


def _acting_as(source: Mapping) -> str:
    if source.get("type") == "profile":
        return f"the profile {source['profile']}"
    if source.get("type") == "role":
        return f"the role {source['roleArn']} (assumed with sts:AssumeRole)"
    return "the server's default credentials"


def _record(spec: ConnectionSpec, created_at: str, updated_at: str) -> ConnectionRecord:
    return ConnectionRecord(
        id=spec.id,
        name=spec.name,
        region=spec.target.region,
        knowledge_base_id=spec.target.knowledge_base_id,
        data_source_id=spec.target.data_source_id,
        credentials=dict(spec.credentials),
        created_at=created_at,
        updated_at=updated_at,
    )


def _connection(record: ConnectionRecord) -> Connection:
    return Connection(
        id=record.id,
        name=record.name,
        target=SyncTarget(record.region, record.knowledge_base_id, record.data_source_id),
        credentials=dict(record.credentials),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def sandbox_connection_bodies() -> list[dict]:
    """The connections a sandbox-backed kbsync starts with (default chain)."""
    from kbsync_sandbox import SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION

    return [
        {
            "id": identifier,
            "name": name,
            "region": SANDBOX_REGION,
            "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
            "dataSourceId": data_source_id,
            "credentials": {"type": "default"},
        }
        for identifier, name, data_source_id in SANDBOX_CONNECTIONS
    ]
