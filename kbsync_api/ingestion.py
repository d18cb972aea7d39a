"""Seed 002's data-ingestion API on kbsync: jobs of records put into a knowledge base.

Paths, bodies, statuses and the error shape are the seed's, so its clients work unchanged;
what they mean is kbsync's (README.md, "Seed 002: data ingestion"):

- `knowledgeBaseId` is a connection id, or a Bedrock knowledge base id (with `dataSourceId`
  when it has more than one data source that accepts documents), resolved by the core
  (kbsync_core/ingestion/jobs.py); one that names neither is a 404;
- every error of these paths, the token check's and the method check's included, is the seed's
  `{"statusCode", "error", "message", "timestamp", "path"}`, with `errors[]` of `{path,
  message}` for a payload the adapter refuses; `path` as the seed shows it (without `/api`);
- a token limited to connections creates jobs only through them and sees (and cancels) only
  their jobs: any other is "not found", as a job of another workspace is in the seed.

Framework-free, as kbsync_api.contract: each endpoint takes what the request carried (the body
already read by kbsync_api/ingestion_body.py) and the process's Kbsync, and returns an ApiReply.
"""

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from kbsync_api.contract import ApiReply
from kbsync_core.errors import (
    AwsRequestError,
    IngestionInvalidError,
    IngestionJobFinishedError,
    IngestionJobNotFoundError,
    IngestionTargetNotFoundError,
)
from kbsync_core.ingestion.adapters import adapters
from kbsync_core.ingestion.documents import RecordProblem
from kbsync_core.ingestion.jobs import DEFAULT_LIMIT, MAX_LIMIT
from kbsync_core.runtime import Kbsync
from kbsync_core.timefmt import iso_utc, utc_now

logger = logging.getLogger(__name__)

# The seed's paths are under /api; its error bodies show them without it.
API_PREFIX = "/api"
MAX_UPLOAD_BYTES = 30 * 1024 * 1024  # the seed's multipart limit, for any body of POST /jobs

# The `error` of each status (NestJS's words, which the seed's examples show).
ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

# The seed's sentences.
TOKEN_REQUIRED = "Access token is required"  # noqa: S105 - a sentence
INSUFFICIENT_SCOPE = "Insufficient scope: {scope} required"
UNEXPECTED_ERROR = "An unexpected error occurred"
JOB_NOT_FOUND = "Job {id} not found"
# kbsync's, in the seed's manner.
TOKEN_INVALID = "Invalid or expired access token"  # noqa: S105 - a sentence
BODY_TOO_LARGE = f"Payload too large: the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)}MB"
BODY_NOT_JSON = "Invalid JSON format"
BODY_NOT_OBJECT = "The request body must be a JSON object"
BODY_INCOMPLETE = "The client went away before sending the whole request body"
MEDIA_TYPE_UNSUPPORTED = "Send the job as application/json or multipart/form-data"
MULTIPART_INVALID = "Invalid multipart body: {reason}"
DATA_NOT_JSON = "Invalid file type: the data field must hold JSON"
MISSING_FIELDS = "Missing required fields: {fields}"
FIELD_REQUIRED = "is required"
FIELD_NOT_STRING = "must be a string"
FORCE_NOT_BOOLEAN = "must be true or false"
QUERY_INVALID = "Invalid query parameters"
LIMIT_INVALID = f"must be a whole number from 1 to {MAX_LIMIT}"
OFFSET_INVALID = "must be a whole number, 0 or more"
FLAG_INVALID = "must be true or false"
DATE_INVALID = "must be an ISO 8601 date (2025-01-01) or date and time (2025-01-01T12:00:00Z)"
UNKNOWN_PATH = "Cannot {method} {path}"

REQUIRED_FIELDS = ("adapterType", "knowledgeBaseId", "data")
TRUE_WORDS = ("true", "1")
FALSE_WORDS = ("false", "0")
SCOPE_IN_CHALLENGE = re.compile(r'scope="([^"]*)"')


class IngestionRequestError(Exception):
    """A request refused before the core is asked: its reply, already in the seed's shape."""

    def __init__(self, reply: ApiReply):
        super().__init__(reply.body.get("message"))
        self.reply = reply


# -- the seed's error shape ------------------------------------------------------------------


def seed_error(
    status: int, message: str, problems=None, headers: dict[str, str] | None = None
) -> ApiReply:
    """An error in the seed's shape; timestamp and path are added as it leaves
    (in_seed_shape), where the request's path is known."""
    body: dict[str, Any] = {
        "statusCode": status,
        "error": ERROR_NAMES.get(status, "Error"),
        "message": message,
    }
    if problems is not None:
        body["errors"] = [{"path": p.path, "message": p.message} for p in problems]
    return ApiReply(status, body, headers or {})


def refuse(status: int, message: str, problems=None) -> IngestionRequestError:
    return IngestionRequestError(seed_error(status, message, problems))


def in_seed_shape(path: str, reply: ApiReply) -> ApiReply:
    """Any error reply of these paths as the seed's body, stamped with the time and the path.

    The replies made here are already in the shape; the token check's, the method check's and
    the internal error's (kbsync's `{"error"}`) are rewritten in the seed's words, their
    headers (WWW-Authenticate, Allow) kept.
    """
    body = reply.body if isinstance(reply.body, dict) else {}
    if "statusCode" not in body:
        body = seed_error(reply.status, _seed_message(reply)).body
    shaped = {
        "statusCode": body["statusCode"],
        "error": body["error"],
        "message": body["message"],
        "timestamp": iso_utc(utc_now()),
        "path": seed_path(path),
    }
    if "errors" in body:
        shaped["errors"] = body["errors"]
    return replace(reply, body=shaped, encoded=None)


def _seed_message(reply: ApiReply) -> str:
    challenge = reply.headers.get("WWW-Authenticate", "")
    if reply.status == 401:
        # The challenge says whether a token came and was refused (RFC 6750's invalid_token).
        return TOKEN_INVALID if 'error="invalid_token"' in challenge else TOKEN_REQUIRED
    if reply.status == 403:
        scope = SCOPE_IN_CHALLENGE.search(challenge)
        if scope:
            return INSUFFICIENT_SCOPE.format(scope=scope.group(1))
    if reply.status >= 500:
        return UNEXPECTED_ERROR  # the details are in the server's log, never in a reply
    return str(reply.body.get("error") or ERROR_NAMES.get(reply.status, "Error"))


def seed_path(path: str) -> str:
    """`/api/v2/data-ingestion/jobs` as the seed's errors show it: `/v2/data-ingestion/jobs`."""
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path


def unknown_path(method: str, path: str) -> ApiReply:
    return seed_error(404, UNKNOWN_PATH.format(method=method, path=seed_path(path)))


# -- POST /api/v2/data-ingestion/jobs ----------------------------------------------------------


def job_fields(payload: Any) -> Mapping[str, Any]:
    """A JSON body's fields; 400 when it is not an object."""
    if not isinstance(payload, dict):
        raise refuse(400, BODY_NOT_OBJECT)
    return payload


def create_job(
    kbsync: Kbsync, fields: Mapping[str, Any], visible: tuple[str, ...] | None = None
) -> ApiReply:
    """`{"adapterType", "knowledgeBaseId", "dataSourceId"?, "data", "force"?}` (from JSON, or
    multipart's fields with `force` as text): 202 `{"jobId", "status": "pending"}` once the
    records are staged; the job runs in the background."""
    try:
        adapter_name, knowledge_base_id, data_source_id, force = _read_job_fields(fields)
        job = kbsync.ingestion.create(
            knowledge_base_id,
            adapter_name,
            fields["data"],
            data_source_id=data_source_id,
            force=force,
            visible=visible,
        )
    except IngestionRequestError as refused:
        return refused.reply
    except IngestionInvalidError as error:
        return seed_error(400, error.message, error.problems)
    except IngestionTargetNotFoundError as error:
        return seed_error(404, str(error))
    except AwsRequestError as error:
        # GetDataSource failed: AWS's words (already without secrets), as a gateway's error.
        logger.warning("Resolving an ingestion job's data source failed: %s", error)
        return seed_error(502, str(error))
    return ApiReply(202, {"jobId": job.id, "status": job.status})


def _read_job_fields(fields: Mapping[str, Any]) -> tuple[str, str, str | None, bool]:
    missing = [
        name for name in REQUIRED_FIELDS if fields.get(name) is None or fields.get(name) == ""
    ]
    if missing:
        problems = [RecordProblem(name, FIELD_REQUIRED) for name in missing]
        raise refuse(400, MISSING_FIELDS.format(fields=", ".join(missing)), problems)
    wrong = [
        RecordProblem(name, FIELD_NOT_STRING)
        for name in ("adapterType", "knowledgeBaseId", "dataSourceId")
        if fields.get(name) is not None and not isinstance(fields[name], str)
    ]
    force = _flag(fields.get("force"), False)
    if force is None:
        wrong.append(RecordProblem("force", FORCE_NOT_BOOLEAN))
    if wrong:
        raise refuse(400, f"{wrong[0].path} {wrong[0].message}", wrong)
    return (
        fields["adapterType"],
        fields["knowledgeBaseId"],
        fields.get("dataSourceId") or None,
        bool(force),
    )


def _flag(value: Any, default: bool) -> bool | None:
    """true/false as JSON, or as text (a multipart field, a query parameter); None if neither."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
        return False
    return None


# -- GET /api/v2/data-ingestion/jobs -----------------------------------------------------------


def list_jobs(
    kbsync: Kbsync, query: Mapping[str, str], visible: tuple[str, ...] | None = None
) -> ApiReply:
    """`?status&limit&offset&includePayload&startDate&endDate`: 200 `{"total", "jobs"}`, newest
    first; a limit outside 1-100, a negative offset or a date that is not ISO 8601 is a 400."""
    problems = []
    limit = _whole_number(query.get("limit"), DEFAULT_LIMIT)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        problems.append(RecordProblem("limit", LIMIT_INVALID))
    offset = _whole_number(query.get("offset"), 0)
    if offset is None or offset < 0:
        problems.append(RecordProblem("offset", OFFSET_INVALID))
    include_payload = _flag(query.get("includePayload"), False)
    if include_payload is None:
        problems.append(RecordProblem("includePayload", FLAG_INVALID))
    created_from = _moment(query.get("startDate"), end_of_day=False)
    if created_from is False:
        problems.append(RecordProblem("startDate", DATE_INVALID))
    created_to = _moment(query.get("endDate"), end_of_day=True)
    if created_to is False:
        problems.append(RecordProblem("endDate", DATE_INVALID))
    if problems:
        return seed_error(400, f"{problems[0].path} {problems[0].message}", problems)
    try:
        body = kbsync.ingestion.list(
            status=query.get("status") or None,
            limit=limit,
            offset=offset,
            created_from=created_from,
            created_to=created_to,
            include_payload=bool(include_payload),
            visible=visible,
        )
    except IngestionInvalidError as error:  # an unknown status
        return seed_error(400, error.message, error.problems)
    return ApiReply(200, body)


def _whole_number(value: str | None, default: int) -> int | None:
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
        return None
    return int(text)


def _moment(value: str | None, *, end_of_day: bool) -> str | bool | None:
    """The store's form of an ISO 8601 date or moment (None when absent, False when not one).
    A date alone means its whole day: from its first moment, or to its last."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(), UTC)
            if end_of_day:
                moment += timedelta(days=1) - timedelta(milliseconds=1)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)  # the seed's times are UTC
    except ValueError:
        return False
    return iso_utc(moment)


# -- GET / DELETE /api/v2/data-ingestion/jobs/{jobId} ------------------------------------------


def get_job(
    kbsync: Kbsync,
    job_id: str,
    include_payload: str | None,
    visible: tuple[str, ...] | None = None,
) -> ApiReply:
    """200 with the job (progress, every record's result, result); 404 for no such job."""
    flag = _flag(include_payload, False)
    if flag is None:
        problems = [RecordProblem("includePayload", FLAG_INVALID)]
        return seed_error(400, f"includePayload {FLAG_INVALID}", problems)
    try:
        _visible_job(kbsync, job_id, visible)
        return ApiReply(200, kbsync.ingestion.get(job_id, include_payload=flag))
    except IngestionJobNotFoundError:
        return seed_error(404, JOB_NOT_FOUND.format(id=job_id))


def cancel_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None = None) -> ApiReply:
    """204 once the cancel is recorded (the job stops sending; what it sent stays); 409 for a
    job that already ended, 404 for no such job."""
    try:
        _visible_job(kbsync, job_id, visible)
        kbsync.ingestion.cancel(job_id)
    except IngestionJobNotFoundError:
        return seed_error(404, JOB_NOT_FOUND.format(id=job_id))
    except IngestionJobFinishedError as error:
        return seed_error(409, str(error))
    return ApiReply(204, {})


def _visible_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None) -> None:
    """IngestionJobNotFoundError for a job a token limited to connections may not see."""
    job = kbsync.ingestion.job(job_id)
    if visible is not None and job.connection_id not in visible:
        raise IngestionJobNotFoundError(JOB_NOT_FOUND.format(id=job_id))


# -- GET /api/v2/data-ingestion/adapters -------------------------------------------------------


def list_adapters() -> ApiReply:
    """200 `[{"name", "format", "version"}]`: a bare list, as the seed's."""
    listed = [{"name": a.name, "format": a.format, "version": a.version} for a in adapters()]
    return ApiReply(200, listed)  # routes.render writes any JSON value
