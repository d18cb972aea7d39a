import pytest

from kbsync_core.models import DEFAULT_DESCRIPTION
from kbsync_core.validation import (
    MISSING_HISTORY_PARAMETERS,
    MISSING_SYNC_PARAMETERS,
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
        ("accessKeyId", "not a key", "accessKeyId must be 16 or more capital letters"),
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
    assert check_fields({**SEED_SYNC_BODY, "accessKeyId": "lowercase-key"}) == {
        "accessKeyId": "accessKeyId must be 16 or more capital letters and digits, "
        "such as AKIAIOSFODNN7EXAMPLE."
    }


def test_a_short_secret_is_a_typing_mistake():
    with pytest.raises(RequestValidationError, match="at least 16 characters") as raised:
        validate_sync_request({**SEED_SYNC_BODY, "secretAccessKey": "x"})
    assert raised.value.field == "secretAccessKey"
