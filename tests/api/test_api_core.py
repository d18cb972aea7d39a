"""kbsync_api.contract without HTTP: the contract's decisions, with the engine and history faked."""

import functools
import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import botocore.exceptions
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbsync_api import contract as api
from kbsync_core.aws import aws_errors_explained
from kbsync_core.config import Settings
from kbsync_core.errors import ExecutionFinishedError, ExecutionNotFoundError, NotMonitoredError
from kbsync_core.events import CREATED, log_event
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.progress import SyncProgress
from kbsync_core.store import ExecutionStore
from kbsync_core.tokens import ApiTokens
from tests.api.conftest import history_body, sync_body

SECRET = "unitTestSecret/DoNotLeak+0123456789abcdefgh"
TOKEN = "unit-test-token"
EXECUTION = Execution(
    id="6f1c2a4e-8b7d-4c3e-9a1f-0d2e3b4c5a6f",
    target=SyncTarget("us-east-1", "SANDBOXKB1", "SANDBOXDS1"),
    description="unit",
    status=ExecutionStatus.EN_EJECUCION,
    started_at="2026-01-01T00:00:00.000Z",
    events=[log_event(CREATED, datetime(2026, 1, 1, tzinfo=UTC))],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


class FakeEngine:
    def __init__(self, error: Exception | None = None):
        self.error = error
        self.calls = []

    def _answer(self, name, *args):
        self.calls.append((name, args))
        if self.error is not None:
            raise self.error
        return EXECUTION

    def start_sync(self, request):
        return self._answer("start_sync", request)

    def stop_sync(self, execution_id, credentials=None):
        return self._answer("stop_sync", execution_id, credentials)

    def peek(self, execution_id):
        return None

    def acts_as_server(self, execution_id):
        return False  # EXECUTION was started with an operator's keys

    def get(self, execution_id):
        self.calls.append(("get", (execution_id,)))
        if self.error is not None:
            raise self.error
        return EXECUTION if execution_id == EXECUTION.id else None


class FakeHistory:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def read(self, request):
        if self.error is not None:
            # As HistoryService does: AWS's errors leave the core as AwsRequestError.
            with aws_errors_explained(request.credentials):
                raise self.error
        return [EXECUTION.to_dict()]


def fake_kbsync(engine_error=None, history_error=None, **settings_changes):
    engine = FakeEngine(engine_error)
    return SimpleNamespace(
        settings=Settings(**settings_changes),
        engine=engine,
        reads=engine,  # executions are read as the engine has them, nothing kept
        history=FakeHistory(history_error),
        progress=empty_progress(),
    )


@functools.cache
def empty_progress() -> SyncProgress:
    """Progress read from a store that holds nothing: made once (a migrated database takes
    ~50 ms, and the property tests make a fake Kbsync per example)."""
    return SyncProgress(ExecutionStore("sqlite://"))


def client_error(code: str, message: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message}}, "ListIngestionJobs"
    )


# -- the bearer token ------------------------------------------------------------------------


@pytest.fixture
def no_tokens() -> ApiTokens:
    return ApiTokens(ExecutionStore("sqlite://").tokens)


@pytest.fixture
def environment_token() -> ApiTokens:
    return ApiTokens(ExecutionStore("sqlite://").tokens, environment_token=TOKEN)


@pytest.mark.parametrize("authorization", [None, "Bearer unknown"])
def test_without_any_token_everything_is_allowed(no_tokens, authorization):
    assert api.authorize(no_tokens, authorization, "sync:write") is None


@pytest.mark.parametrize(
    "authorization",
    [
        None, "", "Bearer", "Bearer ", "Bearer wrong", f"Basic {TOKEN}", TOKEN,
        "Bearer ñ", "Bearer ☃",
    ],
)
def test_anything_but_the_token_is_a_401_with_a_challenge(environment_token, authorization):
    reply = api.authorize(environment_token, authorization, "sync:read")
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN} "]
)
def test_the_token_passes_whatever_the_schemes_case(environment_token, authorization):
    assert api.authorize(environment_token, authorization, "sync:write") is None


# -- reading bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("application/merge-patch+json", True),
        (None, False),
        ("", False),
        ("text/plain", False),
        ("multipart/form-data; boundary=x", False),
        ("application/jsonp", False),
    ],
)
def test_only_json_media_types_are_accepted(content_type, accepted):
    assert api.is_json_media_type(content_type) is accepted


@pytest.mark.parametrize("declared", [str(api.MAX_BODY_BYTES + 1), "99999999999999999999"])
def test_a_body_declared_too_large_is_refused_before_reading(declared):
    with pytest.raises(api.ApiError) as refused:
        api.check_declared_length(declared)
    assert refused.value.reply.status == 413


@pytest.mark.parametrize("declared", [None, "", "12", str(api.MAX_BODY_BYTES), "²", "-5", "1e9"])
def test_a_small_or_unreadable_declared_length_is_left_to_the_reader(declared):
    api.check_declared_length(declared)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_a_400(raw):
    try:
        api.parse_json_body(raw)
    except api.ApiError as error:
        assert error.reply == api.error_reply(400, api.BODY_NOT_JSON)


# -- the endpoints ---------------------------------------------------------------------------


@settings(max_examples=300)
@given(json_values)
def test_no_json_value_makes_an_endpoint_raise_or_echo_a_secret(value):
    payload = {**value, "secretAccessKey": SECRET} if isinstance(value, dict) else value
    kbsync = fake_kbsync()
    for endpoint in (api.start_sync, api.sync_history, api.stop_sync):
        reply = endpoint(kbsync, payload)
        assert reply.status in (200, 202, 400, 404)
        assert SECRET not in json.dumps(reply.body)


@pytest.mark.parametrize(
    ("endpoint", "body", "expected"),
    [
        (api.start_sync, sync_body(), (202, {"executionId": EXECUTION.id})),
        (api.sync_history, history_body(), (200, {"executions": [EXECUTION.to_dict()]})),
        (api.stop_sync, {"executionId": EXECUTION.id}, (202, EXECUTION.to_dict())),
    ],
)
def test_a_valid_request_reaches_the_core_and_renders_its_answer(endpoint, body, expected):
    reply = endpoint(fake_kbsync(), body)
    assert (reply.status, reply.body) == expected


def test_get_renders_the_execution_or_the_seeds_404():
    kbsync = fake_kbsync()
    reply = api.get_sync(kbsync, f" {EXECUTION.id} ")
    # Seed 000's execution, and kbsync's progress beside it (nothing known of it yet).
    assert (reply.status, json.loads(reply.encoded)) == (200, reply.body)
    assert reply.body == {
        **EXECUTION.to_dict(),
        "progress": {
            "percentage": None, "stage": "starting", "documentsExpected": None,
            "documentsScanned": 0, "estimatedCompletion": None,
        },
    }
    assert api.get_sync(kbsync, "unknown").body == {"error": api.EXECUTION_NOT_FOUND}
    assert api.get_sync(kbsync, None).status == 400
    assert api.get_sync(kbsync, "x" * 65).status == 404
    assert [call[1][0] for call in kbsync.engine.calls] == [EXECUTION.id, "unknown"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ExecutionNotFoundError("x"), 404),
        (ExecutionFinishedError("The execution already ended with status COMPLETADO."), 409),
        (NotMonitoredError("not watched"), 409),
    ],
)
def test_stop_maps_the_engines_refusals(error, status):
    reply = api.stop_sync(fake_kbsync(engine_error=error), {"executionId": EXECUTION.id})
    assert reply.status == status


def test_stop_passes_the_credentials_sent_and_otherwise_none():
    kbsync = fake_kbsync()
    api.stop_sync(kbsync, {"executionId": EXECUTION.id})
    keys = {"accessKeyId": "AKIAKBSYNCUNIT0001", "secretAccessKey": SECRET}
    api.stop_sync(kbsync, {"executionId": EXECUTION.id, **keys})
    (_, (_, none)), (_, (_, given_credentials)) = kbsync.engine.calls
    assert none is None
    assert given_credentials.secret_access_key == SECRET


def test_stop_lends_the_servers_identity_only_where_allowed():
    kbsync = fake_kbsync(allow_ambient_credentials=True)
    api.stop_sync(kbsync, {"executionId": EXECUTION.id, "profile": "ops"})
    (_, (_, credentials)), = kbsync.engine.calls
    assert credentials.profile_name == "ops" and not credentials.is_explicit


def test_an_aws_error_reading_history_is_a_500_in_awss_words_without_the_secret():
    message = f"Knowledge base MISSINGKB1 was not found (signed with {SECRET})."
    kbsync = fake_kbsync(history_error=client_error("ResourceNotFoundException", message))
    reply = api.sync_history(kbsync, history_body(secretAccessKey=SECRET))
    assert reply.status == 500
    assert reply.body["error"].startswith("ResourceNotFoundException: Knowledge base MISSINGKB1")
    assert SECRET not in reply.body["error"]


@pytest.mark.parametrize(
    ("endpoint", "body", "kbsync"),
    [
        (api.start_sync, sync_body(secretAccessKey=SECRET), "engine"),
        (api.sync_history, history_body(secretAccessKey=SECRET), "history"),
        (api.stop_sync, {"executionId": EXECUTION.id, "accessKeyId": "AKIAKBSYNCUNIT0001",
                         "secretAccessKey": SECRET}, "engine"),
    ],
)
def test_an_internal_error_is_a_500_naming_its_kind_with_details_only_in_the_log(
    endpoint, body, kbsync, caplog
):
    boom = RuntimeError(f"disk full while writing {SECRET}")
    failing = fake_kbsync(**{f"{kbsync}_error": boom})
    with caplog.at_level(logging.ERROR, logger="kbsync_api.contract"):
        reply = endpoint(failing, body)
    assert reply == api.error_reply(500, api.INTERNAL_ERROR.format(kind="RuntimeError"))
    assert "disk full" in caplog.text and "Traceback" in caplog.text
    assert SECRET not in caplog.text


def test_health_says_what_runs():
    reply = api.health(fake_kbsync(backend="aws"))
    assert reply.body == {"ok": True, "backend": "aws", "version": api.version()}
    assert api.version() != "unknown"


def test_a_request_without_keys_acts_as_the_server_and_needs_a_token_on_aws():
    # Ambient credentials lent on the aws backend, no token made: a request without keys would
    # act with the server's identity for whoever reaches the port.
    kbsync = fake_kbsync(backend="aws", allow_ambient_credentials=True)
    kbsync.tokens = SimpleNamespace(required=lambda: False)
    target = {name: value for name, value in sync_body().items()
              if name not in ("accessKeyId", "secretAccessKey")}
    for endpoint, body in [
        (api.start_sync, target),
        (api.sync_history, {**target, "maxResults": 5}),
    ]:
        reply = endpoint(kbsync, body)
        assert reply.status == 401, (endpoint.__name__, reply.body)
        assert "server's own identity" in reply.body["error"]
    assert kbsync.engine.calls == []
    # With keys of its own, a request stays open as the seeds have it.
    assert api.start_sync(kbsync, sync_body()).status == 202
