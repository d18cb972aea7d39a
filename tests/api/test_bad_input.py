"""Bad input over HTTP: always a 4xx with {"error": ...}, never a 5xx, never a traceback."""

import json
import random

import pytest

from kbsync_api.contract import MAX_BODY_BYTES
from tests.api.conftest import history_body, sync_body

POST_PATHS = ("/api/sync", "/api/sync-history", "/api/sync/stop")
FUZZ_SEED = 20240305
FUZZ_BODIES_PER_PATH = 200  # x 3 paths: 600 malformed requests
TOO_LARGE = MAX_BODY_BYTES + 1
# Fields that /api/sync and /api/sync-history both read: a bad one is bad for both. (A bad
# maxResults is ignored by /api/sync, a bad description by /api/sync-history.)
SHARED_FIELDS = (
    "region", "knowledgeBaseId", "dataSourceId", "accessKeyId", "secretAccessKey", "sessionToken",
)
REQUIRED_FIELDS = SHARED_FIELDS[:-1]


def assert_json_error(reply, status: int | None = None) -> None:
    if status is not None:
        assert reply.status == status, (reply.status, reply.raw[:200])
    assert 400 <= reply.status < 500, (reply.status, reply.raw[:200])
    assert reply.headers["content-type"].startswith("application/json")
    assert set(reply.json) == {"error"} and reply.json["error"]
    assert b"Traceback" not in reply.raw


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{'region': 'us-east-1'}",
        b'{"region": "us-east-1",}',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
        b"1" * 5000,
    ],
    ids=["empty", "text", "single-quotes", "trailing-comma", "bad-utf8", "deep", "huge-int"],
)
def test_a_body_that_is_not_json_is_a_400(api, path, raw):
    reply = api.post(path, raw=raw, headers={"Content-Type": "application/json"})
    assert_json_error(reply, 400)
    assert reply.json["error"] == "The request body is not valid JSON."


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("payload", [[], [sync_body()], "text", 42, None, True])
def test_json_that_is_not_an_object_is_a_400(api, path, payload):
    reply = api.post(path, raw=_json(payload), headers={"Content-Type": "application/json"})
    assert_json_error(reply, 400)
    assert reply.json["error"] == "The request body must be a JSON object."


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_declared_as_json_is_a_415(api, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = api.post("/api/sync", raw=json.dumps(sync_body()).encode(), headers=headers)
    assert_json_error(reply, 415)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/x+json"]
)
def test_json_content_types_with_parameters_or_suffixes_are_accepted(api, content_type):
    reply = api.post("/api/sync-history", raw=b"{}", headers={"Content-Type": content_type})
    assert reply.status == 400
    assert reply.json["error"].startswith("Faltan parámetros")


@pytest.mark.parametrize("path", POST_PATHS)
def test_a_body_over_1_mb_is_a_413(api, path):
    body = b'{"description": "' + b"x" * TOO_LARGE + b'"}'
    reply = api.post(path, raw=body, headers={"Content-Type": "application/json"})
    assert_json_error(reply, 413)


def test_a_body_over_1_mb_without_a_length_is_counted_as_it_arrives(api):
    chunk = b" " * 65536
    chunks = iter([b"{"] + [chunk] * (TOO_LARGE // len(chunk) + 1) + [b"}"])
    # http.client sends an iterable body chunked, with no Content-Length.
    reply = api.post("/api/sync", raw=chunks, headers={"Content-Type": "application/json"})
    assert_json_error(reply, 413)


def test_a_body_of_exactly_1_mb_is_read(api):
    body = b"{" + b" " * (MAX_BODY_BYTES - 2) + b"}"
    reply = api.post("/api/sync", raw=body, headers={"Content-Type": "application/json"})
    assert_json_error(reply, 400)
    assert reply.json["error"] == "Faltan parámetros de sincronización."


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/sync", "GET, HEAD, POST"),
        ("DELETE", "/api/sync", "GET, HEAD, POST"),
        ("PATCH", "/api/sync", "GET, HEAD, POST"),
        ("OPTIONS", "/api/sync", "GET, HEAD, POST"),
        ("GET", "/api/sync-history", "POST"),
        ("DELETE", "/api/sync-history", "POST"),
        ("GET", "/api/sync/stop", "POST"),
        ("POST", "/api/health", "GET, HEAD"),
    ],
)
def test_an_unsupported_method_is_a_json_405_naming_the_allowed_ones(api, method, path, allowed):
    reply = api.request(method, path)
    assert_json_error(reply, 405)
    assert reply.headers["allow"] == allowed


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/syncs", "/api/sync/start", "/api/x/y"])
def test_an_unknown_api_path_is_a_json_404(api, path):
    reply = api.get(path)
    assert_json_error(reply, 404)


def malformed_bodies(rng: random.Random, count: int) -> list[bytes]:
    """`count` request bodies, each malformed for every POST endpoint: not JSON, not an object,
    a required field missing, or a field of the wrong type or shape."""
    makers = [
        _random_bytes, _truncated_json, _not_an_object, _unknown_fields_only,
        _field_missing, _field_of_wrong_type, _field_of_wrong_shape, _deeply_nested,
    ]
    return [rng.choice(makers)(rng) for _ in range(count)]


def _json(value) -> bytes:
    return json.dumps(value).encode()


def _random_bytes(rng):
    return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))


def _truncated_json(rng):
    whole = _json(history_body())
    return whole[: rng.randrange(len(whole) - 1)]


def _random_scalar(rng):
    return rng.choice([
        None, True, False, 0, -1, 2**70, 1.5, -0.0, 1e308, "", " ", "\u0000",
        "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 30))),
    ])


def _random_value(rng, depth=0):
    if depth > 3 or rng.random() < 0.5:
        return _random_scalar(rng)
    if rng.random() < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        f"k{rng.randrange(100)}": _random_value(rng, depth + 1) for _ in range(rng.randrange(4))
    }


def _not_an_object(rng):
    value = _random_value(rng)
    return _json(value if not isinstance(value, dict) else [value])


def _unknown_fields_only(rng):
    return _json({f"field{n}": _random_value(rng) for n in range(rng.randrange(6))})


def _field_missing(rng):
    body = history_body()
    for name in rng.sample(REQUIRED_FIELDS, rng.randrange(1, 4)):
        if rng.random() < 0.5:
            del body[name]
        else:
            body[name] = rng.choice([None, "", "   "])
    return _json(body)


def _field_of_wrong_type(rng):
    body = history_body()
    body[rng.choice(SHARED_FIELDS)] = rng.choice([42, 1.5, True, [1], {"a": 1}, ["x", "y"]])
    return _json(body)


def _field_of_wrong_shape(rng):
    body = history_body()
    name, value = rng.choice([
        ("region", "US-EAST-1"), ("region", "useast1"), ("region", "us east 1"),
        ("knowledgeBaseId", "ABC"), ("knowledgeBaseId", "ABCDEFGHIJK"),
        ("dataSourceId", "KLMN-PQRST"),
        ("accessKeyId", "AKIA IOSFODNN7EXAMPLE"), ("accessKeyId", "AKIA\nIOSFODNN7"),
        ("accessKeyId", "A" * 129), ("sessionToken", "token with spaces"),
        ("secretAccessKey", "with a space"), ("secretAccessKey", "tab\tinside"),
    ])
    body[name] = value
    return _json(body)


def _deeply_nested(rng):
    depth = rng.randrange(1000, 50_000)
    return b'{"region": ' + b"[" * depth + b"]" * depth + b"}"


def test_fuzz_600_malformed_bodies_get_4xx_json_and_no_5xx(api, console):
    rng = random.Random(FUZZ_SEED)  # noqa: S311 - reproducible test input, not a secret
    output_before = len(console.output())
    answered = 0
    for path in POST_PATHS:
        for body in malformed_bodies(rng, FUZZ_BODIES_PER_PATH):
            reply = api.post(path, raw=body, headers={"Content-Type": "application/json"})
            assert_json_error(reply)
            answered += 1
    assert answered == 600
    assert "Traceback" not in console.output()[output_before:]


SESSION_TOKEN = "IQoJb3JpZ2luX2VjEKbsyncSurrogateTokenDoNotLeak0123456789"
LONE_SURROGATE = "\ud800"  # json.loads takes JSON's "\ud800"; UTF-8 cannot encode it
NOT_TEXT = " is not valid text"


def _json_text(body: dict) -> bytes:
    """The body as JSON text whose strings carry the lone surrogate as the escape \\ud800."""
    raw = _json(body)
    assert b"\\ud800" in raw
    return raw


def assert_not_text_reply(reply, field: str, secret: str | None = None) -> None:
    assert_json_error(reply, 400)
    assert reply.json["error"].startswith(field + NOT_TEXT), reply.json
    # Nothing of the value: not the secret, nor its length (no position of the bad character).
    if secret is not None:
        assert secret.encode() not in reply.raw
        assert str(len(secret)).encode() not in reply.raw
        assert str(len(secret + LONE_SURROGATE)).encode() not in reply.raw


@pytest.mark.parametrize("field", [*SHARED_FIELDS, "description"])
def test_a_lone_surrogate_in_a_sync_field_is_a_400_naming_it(api, console, field):
    value = SESSION_TOKEN + LONE_SURROGATE
    output_before = len(console.output())
    reply = api.post(
        "/api/sync", raw=_json_text(sync_body(**{field: value})),
        headers={"Content-Type": "application/json"},
    )
    assert_not_text_reply(reply, field, SESSION_TOKEN)
    assert "Traceback" not in console.output()[output_before:]


@pytest.mark.parametrize("field", SHARED_FIELDS)
def test_a_lone_surrogate_in_a_history_field_is_a_400_naming_it(api, field):
    reply = api.post(
        "/api/sync-history",
        raw=_json_text(history_body(**{field: SESSION_TOKEN + LONE_SURROGATE})),
        headers={"Content-Type": "application/json"},
    )
    assert_not_text_reply(reply, field, SESSION_TOKEN)


def test_a_lone_surrogate_in_a_stop_requests_session_token_is_a_400_naming_it(api):
    body = {
        "executionId": "3f0c8f1e-5b7a-4c1e-9a57-0d6f1b2c3d4e",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sessionToken": SESSION_TOKEN + LONE_SURROGATE,
    }
    reply = api.post(
        "/api/sync/stop", raw=_json_text(body), headers={"Content-Type": "application/json"}
    )
    assert_not_text_reply(reply, "sessionToken", SESSION_TOKEN)


@pytest.mark.parametrize("execution_id", [LONE_SURROGATE, "3f0c8f1e" + LONE_SURROGATE])
def test_a_lone_surrogate_in_the_execution_id_to_stop_is_a_400(api, execution_id):
    reply = api.post(
        "/api/sync/stop", raw=_json_text({"executionId": execution_id}),
        headers={"Content-Type": "application/json"},
    )
    assert_not_text_reply(reply, "executionId")


@pytest.mark.parametrize("query", ["%ED%A0%80", "3f0c8f1e%ED%A0%80", "%FF", "%C3"])
def test_an_execution_id_in_the_url_that_is_not_utf8_is_a_400(api, query):
    """A surrogate's UTF-8 bytes (%ED%A0%80), or any bytes that are not UTF-8, cannot name
    an execution: Starlette turns them into U+FFFD, which no execution id holds."""
    reply = api.request("GET", f"/api/sync?executionId={query}")
    assert_not_text_reply(reply, "executionId")


def test_a_cross_origin_preflight_is_refused(api):
    """Why bodies must be application/json: a page on another site can only send that after a
    preflight, and kbsync grants none, so it cannot start or stop syncs from a visitor's browser."""
    reply = api.request(
        "OPTIONS", "/api/sync",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert reply.status == 405
    assert not [name for name in reply.headers if name.startswith("access-control-")]
