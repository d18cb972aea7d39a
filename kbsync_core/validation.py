"""Checks a sync or history request before anything reaches AWS, with messages naming the field.

Both the console's form and the JSON API hand their input here as a plain mapping with the seeds'
camelCase keys. A missing required field answers with the seed's own sentence; a malformed one
with a sentence that names it. Nothing here calls AWS, and no message repeats a credential.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kbsync_core.models import (
    DEFAULT_DESCRIPTION,
    TRIGGER_API,
    TRIGGERS,
    AwsCredentials,
    SyncTarget,
)

MISSING_SYNC_PARAMETERS = "Faltan parámetros de sincronización."
MISSING_HISTORY_PARAMETERS = "Faltan parámetros para consultar historial de sincronización."
NOT_TEXT = (
    "{field} is not valid text: it contains a lone surrogate or other code that is no "
    "Unicode character."
)

DESCRIPTION_MAX_LENGTH = 200
MAX_RESULTS_DEFAULT = 30
MAX_RESULTS_RANGE = (1, 100)

# us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5, cn-northwest-1, il-central-1...
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
# Bedrock's own pattern for knowledge base, data source and ingestion job ids.
RESOURCE_ID_PATTERN = re.compile(r"^[0-9A-Za-z]{10}$")
# Keys are checked for what could never be a key, and nothing more: AWS's own answer judges the
# rest. Real AWS keys look like AKIA.../ASIA... and 40-character secrets, but AWS emulators
# (LocalStack, ministack) take `test` / `test`, and a key format is AWS's to change.
#
# The access key id: IAM's AccessKeyId is 16 to 128 characters, and no emulator needs more.
ACCESS_KEY_ID_MAX_LENGTH = 128
# AWS's secrets are 40 characters and IAM documents no maximum: 1 KiB is room for any emulator's
# or future format, while a pasted file (kept in memory, hashed for every cache key) is refused.
SECRET_ACCESS_KEY_MAX_LENGTH = 1024
# STS tokens run from some hundreds to a few thousand characters, and AWS warns that their size
# is not fixed: 8 KiB leaves room to grow, and is also the longest header line (the token
# travels in X-Amz-Security-Token) that many HTTP servers and proxies accept by default.
SESSION_TOKEN_MAX_LENGTH = 8192
# The access key id (in the Authorization header's Credential=) and the session token travel
# in HTTP headers: visible ASCII only. The secret never leaves (it keys the signature), so any
# text goes, except what no key can hold: spaces, line breaks, control characters.
HEADER_SAFE_PATTERN = re.compile(r"^[\x21-\x7e]+$")
ONLY_VISIBLE_ASCII = (
    "must hold visible ASCII characters only: no spaces, line breaks or control characters."
)
NO_SPACES_OR_CONTROLS = "must not contain spaces, line breaks or control characters."


def _header_safe(value: str) -> bool:
    return HEADER_SAFE_PATTERN.fullmatch(value) is not None


def _no_spaces_or_controls(value: str) -> bool:
    # isprintable() is False for line breaks, control and format characters; " " is printable.
    return not any(character.isspace() or not character.isprintable() for character in value)


# Each credential field: its maximum length, the test of its characters, and the explanation.
CREDENTIAL_RULES = {
    "accessKeyId": (ACCESS_KEY_ID_MAX_LENGTH, _header_safe, ONLY_VISIBLE_ASCII),
    "secretAccessKey": (
        SECRET_ACCESS_KEY_MAX_LENGTH, _no_spaces_or_controls, NO_SPACES_OR_CONTROLS
    ),
    "sessionToken": (SESSION_TOKEN_MAX_LENGTH, _header_safe, ONLY_VISIBLE_ASCII),
}

PROFILE_NAME_PATTERN = re.compile(r"^[\w.@+=,-]{1,64}$")

TARGET_FIELDS = ("region", "knowledgeBaseId", "dataSourceId")
KEY_FIELDS = ("accessKeyId", "secretAccessKey")

FIELD_LABELS = {
    "region": "Region",
    "knowledgeBaseId": "Knowledge base ID",
    "dataSourceId": "Data source ID",
    "accessKeyId": "Access key ID",
    "secretAccessKey": "Secret access key",
    "sessionToken": "Session token",
    "description": "Description",
    "maxResults": "Max results",
    "profile": "Profile",
}


class RequestValidationError(ValueError):
    """A request kbsync will not send to AWS. `field` names the offending input, if one does."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class MissingParametersError(RequestValidationError):
    """Required fields are absent; the message is the seed's, `fields` lists which ones."""

    def __init__(self, message: str, fields: list[str]):
        super().__init__(message, fields[0] if fields else None)
        self.fields = fields


@dataclass(frozen=True)
class SyncRequest:
    target: SyncTarget
    credentials: AwsCredentials
    description: str = DEFAULT_DESCRIPTION
    # The connection the target and credentials came from, if any.
    connection_id: str | None = None
    # Who asks (kbsync_core.models.TRIGGERS): the API unless said otherwise.
    trigger: str = TRIGGER_API

    def __post_init__(self):
        if self.trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {sorted(TRIGGERS)}, not {self.trigger!r}")


@dataclass(frozen=True)
class HistoryRequest:
    target: SyncTarget
    credentials: AwsCredentials
    max_results: int = MAX_RESULTS_DEFAULT


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_text(value: str) -> bool:
    """False for a str that holds something no text can: a lone UTF-16 surrogate (JSON's
    "\\ud800", which json.loads lets through), which UTF-8, SQLite and HTTP all refuse."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def not_text_message(name: str) -> str:
    # Nothing of the value, not even where the bad character is: the position of one at the
    # end of a session token would be the token's length.
    return NOT_TEXT.format(field=name)


def _string(payload: Mapping[str, Any], name: str) -> str | None:
    """Every string field is read here: absent or blank is None; not a string, or not text,
    a RequestValidationError naming the field."""
    value = payload.get(name)
    if _is_blank(value):
        return None
    if not isinstance(value, str):
        raise RequestValidationError(f"{name} must be a string.", name)
    if not is_text(value):
        raise RequestValidationError(not_text_message(name), name)
    return value.strip()


def _check_pattern(name: str, value: str, pattern: re.Pattern, explanation: str) -> str:
    if not pattern.fullmatch(value):
        raise RequestValidationError(f"{name} {explanation}", name)
    return value


def _require(payload: Mapping[str, Any], names: tuple[str, ...], message: str) -> None:
    missing = [name for name in names if _is_blank(payload.get(name))]
    if missing:
        raise MissingParametersError(message, missing)


# Each target field: the pattern it must match, and what to tell whoever typed something else.
TARGET_FIELD_RULES = {
    "region": (REGION_PATTERN, "must be an AWS region name such as us-east-1."),
    "knowledgeBaseId": (
        RESOURCE_ID_PATTERN, "must be exactly 10 letters or digits, such as ABCDEFGHIJ."
    ),
    "dataSourceId": (
        RESOURCE_ID_PATTERN, "must be exactly 10 letters or digits, such as KLMNOPQRST."
    ),
}


def _target_field(payload: Mapping[str, Any], name: str) -> str:
    pattern, explanation = TARGET_FIELD_RULES[name]
    return _check_pattern(name, _string(payload, name) or "", pattern, explanation)


def validate_target(payload: Mapping[str, Any]) -> SyncTarget:
    """The region/knowledge base/data source triple, already known to be present."""
    return SyncTarget(*(_target_field(payload, name) for name in TARGET_FIELDS))


def _credential(payload: Mapping[str, Any], name: str) -> str | None:
    """A key as typed, if it could be one. The messages never repeat it, nor its length: they
    may end up on a screen or in a proxy's log."""
    value = _string(payload, name)
    if value is None:
        return None
    max_length, acceptable, explanation = CREDENTIAL_RULES[name]
    if not acceptable(value):
        raise RequestValidationError(f"{name} {explanation}", name)
    if len(value) > max_length:
        raise RequestValidationError(f"{name} must be at most {max_length} characters.", name)
    return value


def _uses_ambient_credentials(payload: Mapping[str, Any], allow_ambient: bool) -> bool:
    return allow_ambient and all(_is_blank(payload.get(name)) for name in KEY_FIELDS)


def validate_credentials(payload: Mapping[str, Any], *, allow_ambient: bool) -> AwsCredentials:
    """Explicit keys; or, where the server allows it, a named profile or the default chain."""
    if _uses_ambient_credentials(payload, allow_ambient):
        profile = _string(payload, "profile")
        if profile is not None:
            _check_pattern("profile", profile, PROFILE_NAME_PATTERN, "is not a profile name.")
        return AwsCredentials(profile_name=profile)
    access_key_id = _credential(payload, "accessKeyId") or ""
    secret_access_key = _credential(payload, "secretAccessKey") or ""
    session_token = _credential(payload, "sessionToken")
    return AwsCredentials.from_keys(access_key_id, secret_access_key, session_token)


def _validate_request_common(
    payload: Any, message: str, allow_ambient: bool
) -> tuple[SyncTarget, AwsCredentials]:
    if not isinstance(payload, Mapping):
        raise RequestValidationError("The request body must be a JSON object.")
    required = TARGET_FIELDS
    if not _uses_ambient_credentials(payload, allow_ambient):
        required += KEY_FIELDS
    _require(payload, required, message)
    return validate_target(payload), validate_credentials(payload, allow_ambient=allow_ambient)


def validate_sync_request(payload: Any, *, allow_ambient: bool = False) -> SyncRequest:
    target, credentials = _validate_request_common(
        payload, MISSING_SYNC_PARAMETERS, allow_ambient
    )
    return SyncRequest(target, credentials, validate_description(payload.get("description")))


def validate_description(value: Any) -> str:
    """The job's description: the seed's default when empty, at most 200 characters."""
    description = _string({"description": value}, "description") or DEFAULT_DESCRIPTION
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise RequestValidationError(
            f"description must be at most {DESCRIPTION_MAX_LENGTH} characters "
            f"(it has {len(description)}).",
            "description",
        )
    return description


def validate_max_results(value: Any) -> int:
    low, high = MAX_RESULTS_RANGE
    if value is None:
        return MAX_RESULTS_DEFAULT
    # bool is an int in Python, but `true` is not a count in JSON.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestValidationError(
            f"maxResults must be a whole number from {low} to {high}.", "maxResults"
        )
    return value


def validate_history_request(payload: Any, *, allow_ambient: bool = False) -> HistoryRequest:
    target, credentials = _validate_request_common(
        payload, MISSING_HISTORY_PARAMETERS, allow_ambient
    )
    return HistoryRequest(target, credentials, validate_max_results(payload.get("maxResults")))


def check_fields(payload: Mapping[str, Any], *, allow_ambient: bool = False) -> dict[str, str]:
    """Every problem of a connection form at once, by field, for messages next to each input.

    An empty required field maps to "Required."; a malformed one to the message the API gives.
    """
    problems: dict[str, str] = {}
    required = TARGET_FIELDS
    if not _uses_ambient_credentials(payload, allow_ambient):
        required += KEY_FIELDS
    for name in required:
        if _is_blank(payload.get(name)):
            problems[name] = "Required."
    for name in TARGET_FIELDS:
        if name not in problems:
            try:
                _target_field(payload, name)
            except RequestValidationError as error:
                problems[name] = error.message
    if _uses_ambient_credentials(payload, allow_ambient):
        try:
            validate_credentials(payload, allow_ambient=allow_ambient)
        except RequestValidationError as error:
            problems[error.field or "profile"] = error.message
        return problems
    for name in CREDENTIAL_RULES:  # each key on its own: a bad id beside an empty secret
        if name not in problems:
            try:
                _credential(payload, name)
            except RequestValidationError as error:
                problems[name] = error.message
    return problems
