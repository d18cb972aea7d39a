import pytest

from kbsync_core.models import DEFAULT_DESCRIPTION
from kbsync_core.validation import (
    ACCESS_KEY_ID_MAX_LENGTH,
    MISSING_HISTORY_PARAMETERS,
    MISSING_SYNC_PARAMETERS,
    SECRET_ACCESS_KEY_MAX_LENGTH,
    SESSION_TOKEN_MAX_LENGTH,
    MissingParametersError,
    RequestValidationError,
    check_fields,
    validate_history_request,
    validate_sync_request,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED_SYNC_BODY = {
    "region": "us-east-1",
    "knowledgeBaseId": "ABCDEFGHIJ",
    "dataSourceId": "KLMNOPQRST",
    "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "secretAccessKey": SECRET,
    "description": "Sync documents from workshop",
}


def test_seed_example_is_accepted_as_is():
    request = validate_sync_request(SEED_SYNC_BODY)
    assert request.target.knowledge_base_id == "ABCDEFGHIJ"
    assert request.description == "Sync documents from workshop"
    assert request.credentials.secret_access_key == SECRET
    assert request.credentials.session_token is None


def test_description_defaults_to_the_seeds_wording():
    body = {k: v for k, v in SEED_SYNC_BODY.items() if k != "description"}
    assert validate_sync_request(body).description == DEFAULT_DESCRIPTION
    assert validate_sync_request({**body, "description": "   "}).description == (
        DEFAULT_DESCRIPTION
    )


@pytest.mark.parametrize(
    "field", ["region", "knowledgeBaseId", "dataSourceId", "accessKeyId", "secretAccessKey"]
)
@pytest.mark.parametrize("absent", [None, "", "  ", "drop"])
def test_missing_required_field_gives_the_seed_message(field, absent):
    body = dict(SEED_SYNC_BODY)
    if absent == "drop":
        del body[field]
    else:
        body[field] = absent
    with pytest.raises(MissingParametersError) as raised:
        validate_sync_request(body)
    assert raised.value.message == MISSING_SYNC_PARAMETERS
    assert raised.value.fields == [field]


def test_every_missing_field_is_listed_for_the_form():
    with pytest.raises(MissingParametersError) as raised:
        validate_sync_request({})
    assert raised.value.fields == [
        "region", "knowledgeBaseId", "dataSourceId", "accessKeyId", "secretAccessKey",
    ]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("region", "useast1", "region must be an AWS region name"),
        ("region", "US-EAST-1", "region must be an AWS region name"),
        ("knowledgeBaseId", "ABC", "knowledgeBaseId must be exactly 10 letters or digits"),
        ("knowledgeBaseId", "ABCDEFGHI!", "knowledgeBaseId must be exactly 10"),
        ("dataSourceId", "KLMNOPQRSTU", "dataSourceId must be exactly 10"),
        ("accessKeyId", "not a key", "accessKeyId must hold visible ASCII characters only"),
        ("secretAccessKey", "has a space", "secretAccessKey must not contain spaces"),
        ("description", "x" * 201, "description must be at most 200 characters (it has 201)"),
        ("region", 5, "region must be a string"),
        ("knowledgeBaseId", ["ABCDEFGHIJ"], "knowledgeBaseId must be a string"),
        ("description", {"a": 1}, "description must be a string"),
        ("sessionToken", 12, "sessionToken must be a string"),
    ],
)
def test_malformed_field_is_named(field, value, words):
    with pytest.raises(RequestValidationError) as raised:
        validate_sync_request({**SEED_SYNC_BODY, field: value})
    assert words in raised.value.message
    assert raised.value.field == field
    assert not isinstance(raised.value, MissingParametersError)


def test_error_messages_never_repeat_credentials():
    for field in ("accessKeyId", "secretAccessKey"):
        bad_value = "bad value with spaces " + SECRET
        with pytest.raises(RequestValidationError) as raised:
            validate_sync_request({**SEED_SYNC_BODY, field: bad_value})
        assert SECRET not in raised.value.message


def test_body_must_be_an_object():
    for body in ([], "text", 3, None):
        with pytest.raises(RequestValidationError, match="JSON object"):
            validate_sync_request(body)


def test_credentials_repr_hides_secrets():
    body = {**SEED_SYNC_BODY, "sessionToken": "SESSIONTOKENVALUE"}
    request = validate_sync_request(body)
    assert SECRET not in repr(request)
    assert "SESSIONTOKENVALUE" not in repr(request)
    assert "AKIAIOSFODNN7EXAMPLE" in repr(request)


def test_ambient_credentials_only_where_allowed():
    body = {k: v for k, v in SEED_SYNC_BODY.items() if k not in ("accessKeyId", "secretAccessKey")}
    with pytest.raises(MissingParametersError):
        validate_sync_request(body)
    request = validate_sync_request({**body, "profile": "ops"}, allow_ambient=True)
    assert request.credentials.profile_name == "ops"
    assert not request.credentials.is_explicit
    # Half a key pair is a mistake, not a request for the default chain.
    with pytest.raises(MissingParametersError):
        validate_sync_request({**body, "accessKeyId": "AKIAIOSFODNN7EXAMPLE"}, allow_ambient=True)


def test_history_max_results():
    body = {k: v for k, v in SEED_SYNC_BODY.items() if k != "description"}
    assert validate_history_request(body).max_results == 30
    assert validate_history_request({**body, "maxResults": 40}).max_results == 40
    assert validate_history_request({**body, "maxResults": 1}).max_results == 1
    assert validate_history_request({**body, "maxResults": 100}).max_results == 100
    for bad in (0, 101, -3, 2.5, "40", True, [40]):
        with pytest.raises(RequestValidationError, match="maxResults must be a whole number"):
            validate_history_request({**body, "maxResults": bad})


def test_history_missing_fields_use_the_history_message():
    with pytest.raises(MissingParametersError) as raised:
        validate_history_request({"region": "us-east-1"})
    assert raised.value.message == MISSING_HISTORY_PARAMETERS


def test_check_fields_reports_every_problem_by_field():
    problems = check_fields(
        {"region": "nowhere", "knowledgeBaseId": "SHORT", "dataSourceId": "", "accessKeyId": "x"}
    )
    assert problems["region"].startswith("region must be an AWS region name")
    assert problems["knowledgeBaseId"].startswith("knowledgeBaseId must be exactly 10")
    assert problems["dataSourceId"] == "Required."
    assert problems["secretAccessKey"] == "Required."
    assert "accessKeyId" not in problems  # judged once the pair is complete
    assert check_fields(SEED_SYNC_BODY) == {}
    assert check_fields({**SEED_SYNC_BODY, "accessKeyId": "key with spaces"}) == {
        "accessKeyId": "accessKeyId must hold visible ASCII characters only: no spaces, "
        "line breaks or control characters."
    }
    assert check_fields({**SEED_SYNC_BODY, "sessionToken": "token\ud800"}) == {
        "sessionToken": "sessionToken is not valid text: it contains a lone surrogate or other "
        "code that is no Unicode character."
    }


@pytest.mark.parametrize(
    ("access_key_id", "secret", "session_token"),
    [
        ("test", "test", None),  # LocalStack's and ministack's
        ("test", "test", "test"),
        ("AKIAIOSFODNN7EXAMPLE", "x", None),
        ("localstack-key_1", "any-secret/+=", None),
        ("ASIAIOSFODNN7EXAMPLE", SECRET, "IQoJb3JpZ2luX2VjE" + "A" * 1000 + "=="),
        ("A" * ACCESS_KEY_ID_MAX_LENGTH, "s" * SECRET_ACCESS_KEY_MAX_LENGTH, None),
        ("AKIAIOSFODNN7EXAMPLE", "clé-secrète", "t" * SESSION_TOKEN_MAX_LENGTH),
    ],
)
def test_keys_are_taken_in_any_form_aws_or_an_emulator_takes(access_key_id, secret, session_token):
    body = {
        **SEED_SYNC_BODY, "accessKeyId": access_key_id, "secretAccessKey": secret,
        "sessionToken": session_token,
    }
    credentials = validate_sync_request(body).credentials
    assert (credentials.access_key_id, credentials.secret_access_key) == (access_key_id, secret)
    assert credentials.session_token == session_token
    assert check_fields(body) == {}


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("accessKeyId", "AKIA IOSFODNN7EXAMPLE", "must hold visible ASCII characters only"),
        ("accessKeyId", "AKIA\tIOSFODNN7", "must hold visible ASCII characters only"),
        ("accessKeyId", "AKIA\x00IOSFODNN7", "must hold visible ASCII characters only"),
        ("accessKeyId", "AKIAÉIOSFODNN7", "must hold visible ASCII characters only"),
        ("accessKeyId", "A" * (ACCESS_KEY_ID_MAX_LENGTH + 1), "must be at most 128 characters"),
        ("secretAccessKey", "two words", "must not contain spaces, line breaks or control"),
        ("secretAccessKey", "line\nbreak", "must not contain spaces, line breaks or control"),
        ("secretAccessKey", "bell\x07", "must not contain spaces, line breaks or control"),
        ("secretAccessKey", "zero\u200bwidth", "must not contain spaces, line breaks or control"),
        ("secretAccessKey", "nbsp\u00a0inside", "must not contain spaces, line breaks or control"),
        (
            "secretAccessKey", "s" * (SECRET_ACCESS_KEY_MAX_LENGTH + 1),
            "must be at most 1024 characters",
        ),
        ("sessionToken", "token with space", "must hold visible ASCII characters only"),
        ("sessionToken", "token\r\nX-Injected: 1", "must hold visible ASCII characters only"),
        ("sessionToken", "tokén", "must hold visible ASCII characters only"),
        (
            "sessionToken", "t" * (SESSION_TOKEN_MAX_LENGTH + 1),
            "must be at most 8192 characters",
        ),
    ],
)
def test_what_cannot_be_a_key_is_refused_without_repeating_it(field, value, words):
    with pytest.raises(RequestValidationError) as raised:
        validate_sync_request({**SEED_SYNC_BODY, field: value})
    message = raised.value.message
    assert message.startswith(f"{field} {words}")
    assert raised.value.field == field
    assert value.strip() not in message
    assert str(len(value)) not in message


STRING_FIELDS = (
    "region", "knowledgeBaseId", "dataSourceId", "accessKeyId", "secretAccessKey",
    "sessionToken", "description",
)
LONE_SURROGATE = "\ud800"  # what JSON's "\ud800" becomes: json.loads takes it


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize(
    "value",
    [LONE_SURROGATE, SECRET + LONE_SURROGATE, LONE_SURROGATE + SECRET, "ab\udfffcd"],
    ids=["alone", "at-the-end", "at-the-start", "inside"],
)
def test_a_lone_surrogate_in_a_string_field_is_not_text(field, value):
    with pytest.raises(RequestValidationError) as raised:
        validate_sync_request({**SEED_SYNC_BODY, field: value})
    _assert_not_text(raised.value, field, value)


@pytest.mark.parametrize("field", STRING_FIELDS[:-1])
def test_a_lone_surrogate_is_not_text_in_a_history_request_either(field):
    value = SECRET + LONE_SURROGATE
    body = {k: v for k, v in SEED_SYNC_BODY.items() if k != "description"}
    with pytest.raises(RequestValidationError) as raised:
        validate_history_request({**body, field: value})
    _assert_not_text(raised.value, field, value)


def test_a_lone_surrogate_in_a_profile_is_not_text():
    body = {k: v for k, v in SEED_SYNC_BODY.items() if k not in ("accessKeyId", "secretAccessKey")}
    with pytest.raises(RequestValidationError) as raised:
        validate_sync_request({**body, "profile": "ops" + LONE_SURROGATE}, allow_ambient=True)
    _assert_not_text(raised.value, "profile", "ops" + LONE_SURROGATE)


def _assert_not_text(error: RequestValidationError, field: str, value: str) -> None:
    assert not isinstance(error, MissingParametersError)
    assert error.field == field
    assert error.message.startswith(f"{field} is not valid text")
    # Nothing of the value: no piece of it, no position, no length.
    assert SECRET not in error.message
    assert not any(character.isdigit() for character in error.message)
    assert str(len(value)) not in error.message
