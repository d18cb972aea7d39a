"""Checks a sync or history request before anything reaches AWS, with messages naming the field.

Both the console's form and the JSON API hand their input here as a plain mapping with the seeds'
camelCase keys. A missing required field answers with the seed's own sentence; a malformed one
with a sentence that names it. Nothing here calls AWS, and no message repeats a credential.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kbsync_core.models import DEFAULT_DESCRIPTION, AwsCredentials, SyncTarget

MISSING_SYNC_PARAMETERS = "Faltan parámetros de sincronización."
MISSING_HISTORY_PARAMETERS = "Faltan parámetros para consultar historial de sincronización."

DESCRIPTION_MAX_LENGTH = 200
MAX_RESULTS_DEFAULT = 30
MAX_RESULTS_RANGE = (1, 100)

# us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5, cn-northwest-1, il-central-1...
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
# Bedrock's own pattern for knowledge base, data source and ingestion job ids.
RESOURCE_ID_PATTERN = re.compile(r"^[0-9A-Za-z]{10}$")
# IAM access key ids: AKIA... for long-term keys, ASIA... for temporary ones.
ACCESS_KEY_ID_PATTERN = re.compile(r"^[A-Z0-9]{16,128}$")
SECRET_MIN_LENGTH = 16
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


@dataclass(frozen=True)
class HistoryRequest:
    target: SyncTarget
    credentials: AwsCredentials
    max_results: int = MAX_RESULTS_DEFAULT


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _string(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if _is_blank(value):
        return None
    if not isinstance(value, str):
        raise RequestValidationError(f"{name} must be a string.", name)
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


def _uses_ambient_credentials(payload: Mapping[str, Any], allow_ambient: bool) -> bool:
    return allow_ambient and all(_is_blank(payload.get(name)) for name in KEY_FIELDS)


def validate_credentials(payload: Mapping[str, Any], *, allow_ambient: bool) -> AwsCredentials:
    """Explicit keys; or, where the server allows it, a named profile or the default chain."""
    if _uses_ambient_credentials(payload, allow_ambient):
        profile = _string(payload, "profile")
        if profile is not None:
            _check_pattern("profile", profile, PROFILE_NAME_PATTERN, "is not a profile name.")
        return AwsCredentials(profile_name=profile)
    access_key_id = _string(payload, "accessKeyId") or ""
    # The message never repeats a credential: it may end up on a screen or in a proxy's log.
    _check_pattern(
        "accessKeyId", access_key_id, ACCESS_KEY_ID_PATTERN,
        "must be 16 or more capital letters and digits, such as AKIAIOSFODNN7EXAMPLE.",
    )
    secret_access_key = _string(payload, "secretAccessKey") or ""
    if any(character.isspace() for character in secret_access_key):
        raise RequestValidationError(
            "secretAccessKey must not contain spaces or line breaks.", "secretAccessKey"
        )
    # AWS secret keys are 40 characters. A short one is a typing mistake, and would make
    # redacting it from messages cut ordinary words apart.
    if len(secret_access_key) < SECRET_MIN_LENGTH:
        raise RequestValidationError(
            f"secretAccessKey must be at least {SECRET_MIN_LENGTH} characters "
            "(AWS secret access keys have 40).",
            "secretAccessKey",
        )
    session_token = _string(payload, "sessionToken")
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
    if not any(name in problems for name in KEY_FIELDS):
        try:
            validate_credentials(payload, allow_ambient=allow_ambient)
        except RequestValidationError as error:
            problems[error.field or "accessKeyId"] = error.message
    return problems
