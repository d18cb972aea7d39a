"""The JSON API's contract, framework-free: seeds 000 and 001, plus kbsync's additions.

Each endpoint is a function that takes what the request carried (the parsed JSON body, or a
query value) and the process's Kbsync, and returns an ApiReply: an HTTP status and a JSON body.
kbsync_api.routes only reads the HTTP request, calls one of these, and writes the reply; everything
a client can rely on (statuses, sentences, shapes) is decided here.

Credentials arrive in request bodies and leave only towards AWS: no reply repeats one, and
anything logged here about a failure is redacted first.
"""

import json
import logging
import math
import threading
import tomllib
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from kbsync_core.connections import credentials_for
from kbsync_core.errors import (
    AwsRequestError,
    ConnectionExistsError,
    ConnectionInUseError,
    ConnectionInvalidError,
    ConnectionNotFoundError,
    ConnectionTestError,
    ExecutionFinishedError,
    ExecutionNotFoundError,
    NotMonitoredError,
    SecretKeyMissingError,
    WebhookInvalidError,
    WebhookNotFoundError,
)
from kbsync_core.models import TRIGGER_API, AwsCredentials, Execution
from kbsync_core.runtime import Kbsync
from kbsync_core.secretbox import SecretUnreadableError
from kbsync_core.tokens import ApiTokens
from kbsync_core.validation import (
    KEY_FIELDS,
    TARGET_FIELDS,
    HistoryRequest,
    RequestValidationError,
    SyncRequest,
    is_text,
    not_text_message,
    validate_credentials,
    validate_description,
    validate_history_request,
    validate_max_results,
    validate_sync_request,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # 1 MB: a sync request is a few hundred bytes
JSON_MEDIA_TYPE = "application/json"
# Longer than any id kbsync makes (a UUID is 36): such an id cannot exist, so no lookup.
EXECUTION_ID_MAX_LENGTH = 64
BEARER_PREFIX = "bearer "
BEARER_CHALLENGE = 'Bearer realm="kbsync"'
PROJECT_NAME = "kbsync"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

# Seed 000's own sentence (its other two, for missing parameters, live in validation.py).
EXECUTION_NOT_FOUND = "No se encontró la ejecución solicitada."

# kbsync's additions, in the words of the validation messages (which name the field).
BODY_NOT_JSON = "The request body is not valid JSON."
BODY_NOT_OBJECT = "The request body must be a JSON object."
BODY_TOO_LARGE = f"The request body is larger than {MAX_BODY_BYTES} bytes."
BODY_INCOMPLETE = "The client went away before sending the whole request body."
BODY_NOT_DECLARED_JSON = "Send the request body as JSON, with Content-Type: application/json."
EXECUTION_ID_REQUIRED = "executionId is required."
EXECUTION_ID_NOT_STRING = "executionId must be a string."
EXECUTION_ID_NOT_TEXT = not_text_message("executionId")
# What Starlette makes of bytes that are not UTF-8 in a query (`?executionId=%ED%A0%80`, a
# surrogate's bytes): U+FFFD. No id kbsync makes holds one, so in a URL it marks bytes that
# were not text.
REPLACEMENT_CHARACTER = "\ufffd"
KEYS_GO_TOGETHER = "accessKeyId and secretAccessKey go together: send both, or neither."
NOT_MONITORED_SEND_CREDENTIALS = (
    "This process is not watching this execution (it was started before a restart). "
    "Send accessKeyId and secretAccessKey (and sessionToken, if any) to stop it with them."
)
BEARER_REQUIRED = (
    "This API requires a header Authorization: Bearer <token> (KBSYNC_API_TOKEN, or a token "
    "made with python -m kbsync tokens create)."
)
BEARER_REJECTED = "The bearer token is not valid (unknown, revoked or expired)."
SCOPE_MISSING = "This token lacks the scope {scope}."
METHOD_NOT_ALLOWED = "{method} is not allowed on {path}; allowed: {allowed}."
UNKNOWN_ENDPOINT = (
    "There is no API endpoint here. Endpoints: GET /api/health, POST /api/sync, "
    "GET /api/sync?executionId=..., POST /api/sync/stop, POST /api/sync-history, "
    "GET /api/sync/status, GET /api/sync/history, POST /api/sync/cancel, "
    "GET|PUT /api/sync/schedules, GET|POST /api/schedules, GET|PUT|DELETE /api/schedules/{id}, "
    "POST /api/schedules/{id}/run, GET|POST /api/connections, "
    "GET|PUT|DELETE /api/connections/{id}, POST /api/connections/{id}/test, "
    "GET|POST /api/connections/{id}/webhooks, DELETE /api/connections/{id}/webhooks/{webhookId}, "
    "POST /api/connections/{id}/webhooks/{webhookId}/test, "
    "GET /api/connections/{id}/webhooks/deliveries, GET|POST /api/v2/data-ingestion/jobs, "
    "GET|DELETE /api/v2/data-ingestion/jobs/{jobId}, GET /api/v2/data-ingestion/adapters, "
    "POST /jobs/create, POST /api/jobs/create, GET /api/jobs, GET|DELETE /api/jobs/{id}, "
    "POST /api/jobs/{id}/pause, POST /api/jobs/{id}/resume, POST /api/jobs/{id}/run, "
    "GET /api/sources, POST /api/sandbox/orders. README.md documents each."
)
CONNECTION_NOT_FOUND = "No connection has the id {id!r}."
SERVER_IDENTITY_UNAUTHENTICATED = (
    "This acts with the server's own identity (a connection, a profile or the default chain): "
    "it requires a token (Authorization: Bearer <token>); make one with "
    "python -m kbsync tokens create."
)
ONLY_THROUGH_CONNECTIONS = (
    "This token acts only through its connections ({connections}): send connectionId instead "
    "of a target and keys."
)
CONNECTION_OR_TARGET = (
    "Send connectionId, or the target and keys, not both: {fields} came with connectionId."
)
WEBHOOK_NOT_FOUND = "Connection {connection!r} has no webhook with the id {id!r}."
INTERNAL_ERROR = "Internal error in kbsync ({kind}); the server's log has the details."
# GET /api/sync's long poll (kbsync's addition): at most this long, as proxies allow.
MAX_WAIT_SECONDS = 30
WAIT_MALFORMED = f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}."
SINCE_MALFORMED = "since must be the number of log lines you have (a whole number, 0 or more)."


@dataclass(frozen=True)
class ApiReply:
    """What an endpoint answers: the HTTP status, the JSON body, any extra headers."""

    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)
    # The body already encoded as JSON, where it was kept from an earlier answer.
    encoded: bytes | None = None


class ApiError(Exception):
    """Raised by the request-reading helpers when the answer is already decided (a 4xx)."""

    def __init__(self, reply: ApiReply):
        super().__init__(reply.body.get("error"))
        self.reply = reply


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> ApiReply:
    return ApiReply(status, {"error": message}, headers or {})


# -- reading a request -----------------------------------------------------------------------


def bearer_token(authorization: str | None) -> str | None:
    """The token an Authorization header carries ("" for a bare "Bearer"); None when it carries
    no bearer token at all."""
    if not authorization or authorization[: len(BEARER_PREFIX)].lower() != BEARER_PREFIX:
        return None
    return authorization[len(BEARER_PREFIX) :].strip()


def authorize(tokens: ApiTokens, authorization: str | None, scope: str | None) -> ApiReply | None:
    """None when the request may go on; otherwise the 401 (no token, or one that is unknown,
    revoked or expired) or the 403 (a token without `scope`) to answer.

    Until a token is made (and without KBSYNC_API_TOKEN) the API is open, as the seeds' is,
    whatever the request carries. May read the store (kbsync_core.tokens says when).
    """
    presented = bearer_token(authorization)
    principal = tokens.authenticate(presented) if presented else None
    if principal is None:
        if not tokens.required():
            return None
        if presented is None:
            return error_reply(401, BEARER_REQUIRED, {"WWW-Authenticate": BEARER_CHALLENGE})
        return error_reply(
            401, BEARER_REJECTED, {"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'}
        )
    if scope is not None and not principal.allows(scope):
        challenge = f'{BEARER_CHALLENGE}, error="insufficient_scope", scope="{scope}"'
        return error_reply(403, SCOPE_MISSING.format(scope=scope), {"WWW-Authenticate": challenge})
    return None


def is_json_media_type(content_type: str | None) -> bool:
    """application/json, with or without parameters (charset), or any +json type.

    Requiring it is what keeps a web page from posting to the API across origins: a browser
    sends a cross-origin JSON content type only after a CORS preflight, which kbsync refuses.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def check_body_media_type(content_type: str | None) -> None:
    if not is_json_media_type(content_type):
        raise ApiError(error_reply(415, BODY_NOT_DECLARED_JSON))


def check_declared_length(content_length: str | None) -> None:
    """Refuse early a body declared too large; the reader still counts what really arrives."""
    declared = (content_length or "").strip()
    # isascii: "²".isdigit() is True, and int() refuses it.
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(error_reply(413, BODY_TOO_LARGE))


def check_received_length(received_bytes: int) -> None:
    if received_bytes > MAX_BODY_BYTES:
        raise ApiError(error_reply(413, BODY_TOO_LARGE))


def parse_json_body(raw: bytes) -> Any:
    """The body's JSON value (any kind: each endpoint says what it needs) or a 400."""
    try:
        return json.loads(raw)
    # ValueError covers bad JSON, bad UTF-8 and over-long integers; RecursionError a body
    # nested thousands deep, which fits well within 1 MB.
    except (ValueError, RecursionError):
        raise ApiError(error_reply(400, BODY_NOT_JSON)) from None


def read_execution_id(value: Any, *, from_url: bool = False) -> str:
    """The executionId a request names, stripped; an ApiError (400, or 404 for an id too long
    to exist) when it names none. Not text is a 400, before any lookup: SQLite cannot even
    be asked about a lone surrogate."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError(error_reply(400, EXECUTION_ID_REQUIRED))
    if not isinstance(value, str):
        raise ApiError(error_reply(400, EXECUTION_ID_NOT_STRING))
    if not is_text(value) or (from_url and REPLACEMENT_CHARACTER in value):
        raise ApiError(error_reply(400, EXECUTION_ID_NOT_TEXT))
    value = value.strip()
    if len(value) > EXECUTION_ID_MAX_LENGTH:
        raise ApiError(error_reply(404, EXECUTION_NOT_FOUND))
    return value


# -- the endpoints ---------------------------------------------------------------------------


def health(kbsync: Kbsync) -> ApiReply:
    """GET /api/health: open to all (no token), so it says nothing an attacker could use."""
    return ApiReply(200, {"ok": True, "backend": kbsync.settings.backend, "version": version()})


def visible_connections(tokens: ApiTokens, authorization: str | None) -> tuple[str, ...] | None:
    """The connections the request's token is limited to; None for every one (no token
    needed, or an unlimited one). Called after authorize() let the request in."""
    presented = bearer_token(authorization)
    principal = tokens.authenticate(presented) if presented else None
    return principal.connections if principal is not None else None


def identity_denial(kbsync: Kbsync) -> ApiReply | None:
    """Endpoints that act with the server's identity answer nobody without a token, except on
    the sandbox backend: a 401 while no token exists (and KBSYNC_API_TOKEN is unset)."""
    if kbsync.settings.uses_sandbox or kbsync.tokens.required():
        return None
    return error_reply(401, SERVER_IDENTITY_UNAUTHENTICATED, {"WWW-Authenticate": BEARER_CHALLENGE})


def _server_identity_denial(
    kbsync: Kbsync, credentials: AwsCredentials | None
) -> ApiReply | None:
    """A request without keys of its own (a profile, the default chain) acts with the server's
    identity: it needs a token, as the connections do."""
    if credentials is None or credentials.is_explicit:
        return None
    return identity_denial(kbsync)


def _keyed_request(kbsync: Kbsync, payload: Any, visible: tuple[str, ...] | None, validate):
    """The request of a seeds' endpoint that takes a target and keys (000, 001), or an ApiError
    with the answer: refused to a connection-limited token, validated, and refused without a
    token where it would act with the server's identity (no keys of its own)."""
    limited = _only_through_connections(visible)
    if limited is not None:
        raise ApiError(limited)
    try:
        request = validate(payload, allow_ambient=kbsync.settings.allow_ambient_credentials)
    except RequestValidationError as error:
        raise ApiError(error_reply(400, error.message)) from None
    denial = _server_identity_denial(kbsync, request.credentials)
    if denial is not None:
        raise ApiError(denial)
    return request


def start_sync(kbsync: Kbsync, payload: Any, visible: tuple[str, ...] | None = None) -> ApiReply:
    """POST /api/sync (seed 000): 202 {"executionId"} at once; the sync runs in the background.
    With {"connectionId", "description"}, the connection's target and credentials."""
    if isinstance(payload, Mapping) and payload.get("connectionId") is not None:
        return identity_denial(kbsync) or _start_connection_sync(kbsync, payload, visible)
    try:
        request = _keyed_request(kbsync, payload, visible, validate_sync_request)
    except ApiError as error:
        return error.reply
    try:
        execution = kbsync.engine.start_sync(replace(request, trigger=TRIGGER_API))
    except Exception as error:
        return internal_error("starting a sync", error, request.credentials)
    return ApiReply(202, {"executionId": execution.id})


def _requested_connection(kbsync: Kbsync, payload: Mapping, visible: tuple[str, ...] | None):
    """The connection a request names with connectionId instead of a target and keys, or an
    ApiError: 400 when it also carries a target or keys, 404 when the caller has no such one."""
    extra = [name for name in (*TARGET_FIELDS, *KEY_FIELDS, "sessionToken", "profile")
             if payload.get(name) not in (None, "")]
    if extra:
        raise ApiError(error_reply(400, CONNECTION_OR_TARGET.format(fields=", ".join(extra))))
    connection_id = payload.get("connectionId")
    if not isinstance(connection_id, str):
        raise ApiError(error_reply(400, "connectionId must be a string."))
    try:
        return kbsync.connections.get(connection_id, visible)
    except ConnectionNotFoundError:
        raise ApiError(error_reply(404, CONNECTION_NOT_FOUND.format(id=connection_id))) from None


def _start_connection_sync(
    kbsync: Kbsync, payload: Mapping, visible: tuple[str, ...] | None
) -> ApiReply:
    try:
        connection = _requested_connection(kbsync, payload, visible)
        description = validate_description(payload.get("description"))
    except ApiError as error:
        return error.reply
    except RequestValidationError as error:
        return error_reply(400, error.message)
    request = SyncRequest(
        connection.target, credentials_for(connection), description, connection.id,
        trigger=TRIGGER_API,
    )
    try:
        execution = kbsync.engine.start_sync(request)
    except Exception as error:
        return internal_error("starting a sync", error)
    return ApiReply(202, {"executionId": execution.id})


def is_outside(kbsync: Kbsync, execution_id: str, visible: tuple[str, ...] | None) -> bool:
    """Whether a connection-limited token must not see this execution: any run but those of
    its own connections (one started with an operator's keys belongs to no connection)."""
    if visible is None:
        return False
    return kbsync.store.connection_of(execution_id) not in visible


def _only_through_connections(visible: tuple[str, ...] | None) -> ApiReply | None:
    """A connection-limited token acts on nothing but its connections: not with keys."""
    if visible is None:
        return None
    return error_reply(403, ONLY_THROUGH_CONNECTIONS.format(connections=", ".join(visible)))


def get_sync(
    kbsync: Kbsync, execution_id: str | None, visible: tuple[str, ...] | None = None
) -> ApiReply:
    """GET /api/sync?executionId=... (seed 000): the execution, with its logs."""
    try:
        execution_id = read_execution_id(execution_id, from_url=True)
    except ApiError as error:
        return error.reply
    try:
        execution = kbsync.reads.get(execution_id)
        if execution is not None and is_outside(kbsync, execution_id, visible):
            execution = None
    except Exception as error:
        return internal_error("reading an execution", error)
    if execution is None:
        return error_reply(404, EXECUTION_NOT_FOUND)
    try:
        return execution_reply(kbsync, execution)
    except Exception as error:
        return internal_error("reading an execution's progress", error)


def execution_body(execution: Execution, progress_of) -> dict:
    """GET /api/sync's execution: seed 000's shape and kbsync's additions, with `progress`
    (kbsync_core.progress: percentage, stage, expected documents, estimated completion)."""
    body = execution.to_dict()
    body["progress"] = progress_of(execution).to_dict()
    return body


def execution_reply(kbsync: Kbsync, execution: Execution) -> ApiReply:
    """GET /api/sync's 200, its JSON encoded once per version of the execution. Its progress
    may read the store (its data source's past, once per execution): not on the event loop."""
    body, encoded = _encoded_executions.encode(execution, kbsync.progress.of)
    return ApiReply(200, body, encoded=encoded)


def read_wait(value: str | None) -> float | None:
    """GET /api/sync's `wait` (kbsync's addition): seconds to hold the answer until the
    execution changes; None when not asked for. A 400 unless 0 to MAX_WAIT_SECONDS."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_WAIT_SECONDS:  # NaN fails too
        raise ApiError(error_reply(400, WAIT_MALFORMED))
    return seconds


def read_since(value: str | None) -> int | None:
    """GET /api/sync's `since` (kbsync's addition): how many log lines the client has."""
    if value is None:
        return None
    if not value.strip().isascii() or not value.strip().isdigit():
        raise ApiError(error_reply(400, SINCE_MALFORMED))
    return int(value)


def is_news(execution: Execution, since: int) -> bool:
    """Whether a client that has `since` log lines must hear of the execution now: every
    change of an execution adds to its log, and an ended one changes no more."""
    return execution.status.is_final or len(execution.events) != since


def get_sync_without_reading(kbsync: Kbsync, execution_id: str | None) -> ApiReply | None:
    """GET /api/sync's answer when it needs no store read (a malformed id, or an execution
    read and answered lately: kbsync_core.reads); None when it does. Cheap enough for the
    event loop."""
    try:
        execution_id = read_execution_id(execution_id, from_url=True)
    except ApiError as error:
        return error.reply
    execution = kbsync.reads.peek(execution_id)
    if execution is None:
        return None
    # Its progress may need a store read (its data source's past, once): not on the loop.
    kept = _encoded_executions.kept(execution)
    return None if kept is None else ApiReply(200, kept[0], encoded=kept[1])


class EncodedExecutions:
    """The JSON of executions answered lately. A polled execution is the same object for as
    long as kbsync_core.reads keeps it, so it is encoded (and its progress computed) once, not
    once per poll."""

    def __init__(self, max_kept: int = 1024):
        self._max_kept = max_kept
        self._kept: OrderedDict[str, tuple[Execution, dict, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def kept(self, execution: Execution) -> tuple[dict, bytes] | None:
        """The body and JSON answered for this very execution object, if it still is."""
        with self._lock:
            kept = self._kept.get(execution.id)
            return kept[1:] if kept is not None and kept[0] is execution else None

    def encode(self, execution: Execution, progress_of) -> tuple[dict, bytes]:
        kept = self.kept(execution)
        if kept is not None:
            return kept
        body = execution_body(execution, progress_of)
        encoded = encode_json(body)
        with self._lock:
            self._kept[execution.id] = (execution, body, encoded)
            self._kept.move_to_end(execution.id)
            while len(self._kept) > self._max_kept:
                self._kept.popitem(last=False)
        return body, encoded


_encoded_executions = EncodedExecutions()


def encode_json(body: dict) -> bytes:
    """As the routes' JSON responses encode: compact, UTF-8, no NaN."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def stop_sync(kbsync: Kbsync, payload: Any, visible: tuple[str, ...] | None = None) -> ApiReply:
    """POST /api/sync/stop {"executionId"}: 202 with the execution, whose job is stopping.

    An execution started before a restart has nobody holding its credentials: the body may
    carry them as /api/sync's does, and the execution is then watched to its end with them.
    """
    if not isinstance(payload, Mapping):
        return error_reply(400, BODY_NOT_OBJECT)
    try:
        execution_id = read_execution_id(payload.get("executionId"))
    except ApiError as error:
        return error.reply
    if is_outside(kbsync, execution_id, visible):
        return error_reply(404, EXECUTION_NOT_FOUND)
    try:
        credentials = _stop_credentials(payload, kbsync.settings.allow_ambient_credentials)
    except RequestValidationError as error:
        return error_reply(400, error.message)
    if (credentials is None or not credentials.is_explicit) and kbsync.engine.acts_as_server(
        execution_id
    ):
        # Stopping it sends StopIngestionJob with the server's identity.
        denial = identity_denial(kbsync)
        if denial is not None:
            return denial
    try:
        execution = kbsync.engine.stop_sync(execution_id, credentials)
    except ExecutionNotFoundError:
        return error_reply(404, EXECUTION_NOT_FOUND)
    except ExecutionFinishedError as error:
        return error_reply(409, str(error))
    except NotMonitoredError as error:
        message = NOT_MONITORED_SEND_CREDENTIALS if credentials is None else str(error)
        return error_reply(409, message)
    except Exception as error:
        return internal_error("stopping a sync", error, credentials)
    return ApiReply(202, execution.to_dict())


def sync_history(kbsync: Kbsync, payload: Any, visible: tuple[str, ...] | None = None) -> ApiReply:
    """POST /api/sync-history (seed 001): AWS's jobs merged with local executions, one per sync.

    An AWS error (unknown knowledge base, access denied...) is a 500 with AWS's own words, as
    the seed has it; reading with valid credentials also settles executions a killed process
    left unfinished.
    """
    try:
        if isinstance(payload, Mapping) and payload.get("connectionId") is not None:
            request = _connection_history_request(kbsync, payload, visible)
        else:
            request = _keyed_request(kbsync, payload, visible, validate_history_request)
    except ApiError as error:
        return error.reply
    try:
        rows = kbsync.history.read(request)
    except AwsRequestError as error:
        logger.warning("Reading sync history from AWS failed: %s", error)
        return error_reply(500, str(error))
    except Exception as error:
        return internal_error("reading sync history", error, request.credentials)
    return ApiReply(200, {"executions": rows})


def _connection_history_request(
    kbsync: Kbsync, payload: Mapping, visible: tuple[str, ...] | None
) -> HistoryRequest:
    """{"connectionId", "maxResults"}: the connection's data source, with its credentials."""
    denial = identity_denial(kbsync)
    if denial is not None:
        raise ApiError(denial)
    connection = _requested_connection(kbsync, payload, visible)
    try:
        max_results = validate_max_results(payload.get("maxResults"))
    except RequestValidationError as error:
        raise ApiError(error_reply(400, error.message)) from None
    return HistoryRequest(connection.target, credentials_for(connection), max_results)


# -- connections -----------------------------------------------------------------------------


def list_connections(kbsync: Kbsync, visible: tuple[str, ...] | None = None) -> ApiReply:
    """GET /api/connections: those the token may use, by id."""
    listed = kbsync.connections.list(visible)
    return ApiReply(200, {"connections": [connection.to_dict() for connection in listed]})


def _connection_call(function, *args) -> ApiReply:
    """A connection operation, its domain errors as statuses (400, 404, 409)."""
    try:
        return function(*args)
    except ConnectionInvalidError as error:
        body = {"error": error.message}
        if error.field:
            body["field"] = error.field
        return ApiReply(400, body)
    except ConnectionNotFoundError as error:
        return error_reply(404, CONNECTION_NOT_FOUND.format(id=str(error.args[0])))
    except (ConnectionExistsError, ConnectionInUseError) as error:
        return error_reply(409, str(error))


def create_connection(kbsync: Kbsync, payload: Any, visible=None) -> ApiReply:
    """POST /api/connections: 201 with the connection."""
    return _connection_call(
        lambda: ApiReply(201, kbsync.connections.create(payload, visible).to_dict())
    )


def get_connection(kbsync: Kbsync, connection_id: str, visible=None) -> ApiReply:
    return _connection_call(
        lambda: ApiReply(200, kbsync.connections.get(connection_id, visible).to_dict())
    )


def update_connection(kbsync: Kbsync, connection_id: str, payload: Any, visible=None) -> ApiReply:
    """PUT /api/connections/{id}: the whole connection again (the id may be left out)."""
    return _connection_call(
        lambda: ApiReply(
            200, kbsync.connections.update(connection_id, payload, visible).to_dict()
        )
    )


def delete_connection(kbsync: Kbsync, connection_id: str, visible=None) -> ApiReply:
    """DELETE /api/connections/{id}: 204. Runs started from it keep their history; while one
    has not ended, a 409 names it (a replica taking it over needs the connection)."""

    def delete() -> ApiReply:
        kbsync.connections.delete(connection_id, visible)
        return ApiReply(204, {})

    return _connection_call(delete)


def test_connection(kbsync: Kbsync, connection_id: str, visible=None) -> ApiReply:
    """POST /api/connections/{id}/test: 200 {"ok": true, knowledgeBase, dataSource}, or 200
    {"ok": false, "failedCall", "error"} saying which call AWS refused, and why."""

    def test() -> ApiReply:
        try:
            return ApiReply(200, kbsync.connections.test(connection_id, visible))
        except ConnectionTestError as error:
            return ApiReply(
                200,
                {"ok": False, "connectionId": connection_id, "failedCall": error.call,
                 "error": str(error)},
            )

    return _connection_call(test)


# -- webhooks (kbsync_core/notifications/): the URL is never in a reply, only its hint --------


def _webhook_call(function, connection_id: str, webhook_id: str | None = None) -> ApiReply:
    """A webhook operation, its domain errors as statuses (400, 404, 409)."""
    try:
        return function()
    except WebhookInvalidError as error:
        body = {"error": error.message}
        if error.field:
            body["field"] = error.field
        return ApiReply(400, body)
    except ConnectionNotFoundError:
        return error_reply(404, CONNECTION_NOT_FOUND.format(id=connection_id))
    except WebhookNotFoundError:
        return error_reply(404, WEBHOOK_NOT_FOUND.format(connection=connection_id, id=webhook_id))
    except (SecretKeyMissingError, SecretUnreadableError) as error:
        return error_reply(409, str(error))


def list_webhooks(kbsync: Kbsync, connection_id: str, visible=None) -> ApiReply:
    """GET /api/connections/{id}/webhooks: {"webhooks": [...]}, each URL as a hint."""
    return _webhook_call(
        lambda: ApiReply(
            200,
            {"webhooks": [w.to_dict() for w in kbsync.webhooks.list(connection_id, visible)]},
        ),
        connection_id,
    )


def create_webhook(kbsync: Kbsync, connection_id: str, payload: Any, visible=None) -> ApiReply:
    """POST /api/connections/{id}/webhooks {"url", "notifyCompleted"}: 201 with the webhook."""
    return _webhook_call(
        lambda: ApiReply(201, kbsync.webhooks.add(connection_id, payload, visible).to_dict()),
        connection_id,
    )


def delete_webhook(kbsync: Kbsync, connection_id: str, webhook_id: str, visible=None) -> ApiReply:
    def delete() -> ApiReply:
        kbsync.webhooks.delete(connection_id, webhook_id, visible)
        return ApiReply(204, {})

    return _webhook_call(delete, connection_id, webhook_id)


def test_webhook(kbsync: Kbsync, connection_id: str, webhook_id: str, visible=None) -> ApiReply:
    """POST /api/connections/{id}/webhooks/{wid}/test: 200 {"ok", "status", "error"}, what the
    webhook answered a test message (sent once, now)."""

    def test() -> ApiReply:
        outcome = kbsync.webhooks.test(connection_id, webhook_id, visible)
        return ApiReply(
            200, {"ok": outcome.delivered, "status": outcome.status, "error": outcome.error}
        )

    return _webhook_call(test, connection_id, webhook_id)


def webhook_deliveries(kbsync: Kbsync, connection_id: str, visible=None) -> ApiReply:
    """GET /api/connections/{id}/webhooks/deliveries: the newest 50, newest first."""
    return _webhook_call(
        lambda: ApiReply(
            200,
            {
                "deliveries": [
                    d.to_dict() for d in kbsync.webhooks.deliveries(connection_id, visible)
                ]
            },
        ),
        connection_id,
    )


# -- helpers ---------------------------------------------------------------------------------


def _stop_credentials(payload: Mapping, allow_ambient: bool) -> AwsCredentials | None:
    """Keys from the body when it has any; else the server's own, where it may lend them."""
    given = [name for name in KEY_FIELDS if payload.get(name) not in (None, "")]
    if not given and payload.get("sessionToken") in (None, ""):
        # A named profile or the default chain, only where the server lends its identity.
        return validate_credentials(payload, allow_ambient=True) if allow_ambient else None
    if len(given) != len(KEY_FIELDS):
        raise RequestValidationError(KEYS_GO_TOGETHER, "accessKeyId")
    return validate_credentials(payload, allow_ambient=False)


def internal_error(
    doing: str, error: BaseException, credentials: AwsCredentials | None = None
) -> ApiReply:
    """A 500 that names the kind of failure only: the details (redacted) go to the log.

    `doing` says what kbsync was doing ("starting a sync"), for whoever reads the log.
    """
    details = "".join(traceback.format_exception(error))
    if credentials is not None:
        details = credentials.redact(details)
    logger.error("Internal error while %s:\n%s", doing, details)
    return error_reply(500, INTERNAL_ERROR.format(kind=type(error).__name__))


@cache
def version() -> str:
    """kbsync's version: the installed package's, or pyproject.toml's in a checkout."""
    try:
        return metadata.version(PROJECT_NAME)
    except metadata.PackageNotFoundError:
        pass
    try:
        return tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    except (OSError, KeyError, ValueError):
        return "unknown"
