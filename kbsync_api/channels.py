"""Seed 003's sync API on kbsync: a *channel* is a connection, its *messages* are documents.

Paths, bodies and field names are the seed's, so its clients work unchanged; what they mean is
kbsync's (README.md, "Seed 003: channels"):

- `job_id` is kbsync's execution id (the one GET /api/sync takes too);
- statuses: PENDIENTE queued, EN_EJECUCION running, COMPLETADO completed, FALLIDO failed,
  DETENIDO cancelled;
- stages are kbsync's (kbsync_core.progress): starting, scanning, indexing, finishing;
- errors keep the seed's shape, `{"status": "failed", "job_id", "error": {"code", "message",
  "details": {"retry_after"}}}`, with AWS's error codes mapped to the seed's (ERROR_STATUSES
  says which HTTP status each answers with);
- `force`: Bedrock syncs a data source incrementally and has no full re-sync; the answer says
  so (`force_applied: false` and a `note`) rather than pretending.

Framework-free, as kbsync_api.contract: each endpoint takes what the request carried and the
process's Kbsync, and returns an ApiReply.
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kbsync_api.contract import ApiReply, identity_denial
from kbsync_core import events
from kbsync_core.connections import credentials_for
from kbsync_core.errors import (
    ConnectionNotFoundError,
    ExecutionFinishedError,
    ExecutionNotFoundError,
    NotMonitoredError,
)
from kbsync_core.models import TRIGGER_API, Execution, ExecutionStatus
from kbsync_core.progress import SCANNED, Progress
from kbsync_core.runtime import Kbsync
from kbsync_core.timefmt import iso_utc, parse_iso, utc_now
from kbsync_core.validation import RequestValidationError, SyncRequest, validate_description

logger = logging.getLogger(__name__)

STATUSES = {
    ExecutionStatus.PENDIENTE: "queued",
    ExecutionStatus.EN_EJECUCION: "running",
    ExecutionStatus.COMPLETADO: "completed",
    ExecutionStatus.FALLIDO: "failed",
    ExecutionStatus.DETENIDO: "cancelled",
}

# The seed's error codes, and kbsync's additions for what the seed leaves unsaid.
RATE_LIMIT = "RATE_LIMIT"
AUTH_ERROR = "AUTH_ERROR"
CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND"
PLATFORM_ERROR = "PLATFORM_ERROR"
INTERNAL_ERROR = "INTERNAL_ERROR"
INVALID_REQUEST = "INVALID_REQUEST"  # addition: a malformed request
JOB_NOT_FOUND = "JOB_NOT_FOUND"  # addition: no such sync of the channel
JOB_ENDED = "JOB_ENDED"  # addition: cancelling a sync that already ended
ERROR_STATUSES = {
    RATE_LIMIT: 429,
    AUTH_ERROR: 403,  # AWS refused the connection's identity: re-authorising is the server's
    CHANNEL_NOT_FOUND: 404,
    PLATFORM_ERROR: 502,  # AWS failed; ConflictException (a sync already runs) is a 409
    INTERNAL_ERROR: 500,
    INVALID_REQUEST: 400,
    JOB_NOT_FOUND: 404,
    JOB_ENDED: 409,
}

# AWS's error codes, by the seed's code they map to.
RATE_LIMIT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceQuotaExceededException",
    }
)
AUTH_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "ExpiredToken",
        "NoCredentialsError",
        "PartialCredentialsError",
    }
)
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})
CONFLICT_CODE = "ConflictException"
# Seconds a client should wait before trying again: throttling clears in seconds; a quota of
# concurrent jobs, or a sync already running, frees up when a sync ends (minutes).
THROTTLING_RETRY_AFTER = 5
BUSY_RETRY_AFTER = 60
PLATFORM_RETRY_AFTER = 30
QUOTA_CODE = "ServiceQuotaExceededException"

HISTORY_LIMIT_DEFAULT = 10
HISTORY_LIMIT_RANGE = (1, 100)
ID_MAX_LENGTH = 64
# How long POST /api/sync waits for AWS's answer to StartIngestionJob, so that a refusal
# (quota, access denied, a sync already running) is answered as the seed's error, not "started".
START_WAIT_SECONDS = 5.0
START_WAIT_POLL_SECONDS = 0.05
FORCE_NOTE = (
    "Bedrock syncs a data source incrementally: it indexes the documents added or changed "
    "since the last sync and removes the deleted ones. It has no full re-sync, so force was "
    "not applied."
)
SECRET_FIELDS = ("accessKeyId", "secretAccessKey", "sessionToken", "profile")


@dataclass(frozen=True)
class SyncError:
    """An error in the seed's terms: its code, words, retry hint, and the HTTP status."""

    code: str
    message: str
    retry_after: int | None = None
    status: int | None = None
    aws_code: str | None = None

    @property
    def http_status(self) -> int:
        return self.status or ERROR_STATUSES[self.code]

    def to_dict(self) -> dict:
        details: dict[str, Any] = {"retry_after": self.retry_after}
        if self.aws_code:
            details["aws_error_code"] = self.aws_code
        return {"code": self.code, "message": self.message, "details": details}


class ChannelRequestError(Exception):
    def __init__(self, error: SyncError, job_id: str | None = None):
        super().__init__(error.message)
        self.error = error
        self.job_id = job_id


def error_from_aws(aws_code: str | None, message: str) -> SyncError:
    """AWS's error code as the seed's."""
    if aws_code in RATE_LIMIT_CODES:
        retry = BUSY_RETRY_AFTER if aws_code == QUOTA_CODE else THROTTLING_RETRY_AFTER
        return SyncError(RATE_LIMIT, message, retry, aws_code=aws_code)
    if aws_code in AUTH_CODES:
        return SyncError(AUTH_ERROR, message, aws_code=aws_code)
    if aws_code in NOT_FOUND_CODES:
        return SyncError(CHANNEL_NOT_FOUND, message, aws_code=aws_code)
    if aws_code == CONFLICT_CODE:
        return SyncError(PLATFORM_ERROR, message, BUSY_RETRY_AFTER, 409, aws_code)
    return SyncError(PLATFORM_ERROR, message, PLATFORM_RETRY_AFTER, aws_code=aws_code)


def _aws_code_of(event: events.LogEvent) -> str | None:
    """The AWS code an error event kept; for events stored before it was kept, the one its
    text begins with (`describe_aws_error` writes `<code>: <message>`)."""
    code = event.values.get("code")
    if code:
        return str(code)
    head, separator, _rest = str(event.values.get("error", "")).partition(": ")
    return head if separator and head.isidentifier() else None


def failure_of(execution: Execution) -> SyncError | None:
    """Why a failed sync failed, from its log: AWS's refusal, kbsync's own error, or the
    reasons AWS gave for a job that ended FAILED. None for any other status."""
    if execution.status is not ExecutionStatus.FALLIDO:
        return None
    for event in reversed(execution.events):
        if event.event == events.AWS_ERROR:
            return error_from_aws(_aws_code_of(event), str(event.values.get("error", "")))
        if event.event == events.INTERNAL_ERROR:
            return SyncError(INTERNAL_ERROR, str(event.values.get("error", "")))
        if event.event == events.SANDBOX_RESTARTED:
            return SyncError(INTERNAL_ERROR, events.describe(event, events.ENGLISH))
    if execution.failure_reasons:
        # Documents AWS could not ingest: retrying will not help until they are fixed.
        return SyncError(PLATFORM_ERROR, " ".join(execution.failure_reasons))
    return SyncError(PLATFORM_ERROR, "The ingestion job failed.", PLATFORM_RETRY_AFTER)


def error_reply(error: SyncError, job_id: str | None = None) -> ApiReply:
    """The seed's error shape; a Retry-After header with a rate limit's retry hint."""
    headers = {}
    if error.code == RATE_LIMIT and error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    body = {"status": "failed", "job_id": job_id, "error": error.to_dict()}
    return ApiReply(error.http_status, body, headers)


def _invalid(message: str) -> ChannelRequestError:
    return ChannelRequestError(SyncError(INVALID_REQUEST, message))


def _read_id(value: Any, name: str, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _invalid(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string.")
    # U+FFFD: bytes of a URL that were not UTF-8 (contract.REPLACEMENT_CHARACTER).
    if not value.isprintable() or "\ufffd" in value:
        raise _invalid(f"{name} must be printable text.")
    value = value.strip()
    if len(value) > ID_MAX_LENGTH:
        raise _invalid(f"{name} must be at most {ID_MAX_LENGTH} characters.")
    return value


def _channel(kbsync: Kbsync, channel_id: str, visible: tuple[str, ...] | None):
    try:
        return kbsync.connections.get(channel_id, visible)
    except ConnectionNotFoundError:
        raise ChannelRequestError(
            SyncError(CHANNEL_NOT_FOUND, f"No channel (connection) has the id {channel_id!r}.")
        ) from None


def _channel_job(kbsync: Kbsync, channel_id: str, job_id: str) -> Execution:
    """The channel's sync `job_id` (one started from that connection)."""
    execution = kbsync.reads.get(job_id)
    if execution is None or kbsync.store.connection_of(job_id) != channel_id:
        raise ChannelRequestError(
            SyncError(JOB_NOT_FOUND, f"Channel {channel_id} has no sync {job_id}."), job_id
        )
    return execution


def _answer(function, *args) -> ApiReply:
    """Run an endpoint; its refusals and any bug of ours in the seed's error shape."""
    try:
        return function(*args)
    except ChannelRequestError as refused:
        return error_reply(refused.error, refused.job_id)
    except Exception:
        # Connections hold no secret, and the request carried none: the traceback is safe.
        logger.exception("Internal error in seed 003's API")
        return error_reply(SyncError(INTERNAL_ERROR, "Internal error in kbsync; see its log."))


# -- the endpoints ---------------------------------------------------------------------------


def is_channel_request(payload: Any) -> bool:
    """POST /api/sync's body is seed 003's when it names a channel_id (seed 000's never does)."""
    return isinstance(payload, Mapping) and "channel_id" in payload


def start_sync(kbsync: Kbsync, payload: Mapping, visible: tuple[str, ...] | None) -> ApiReply:
    """POST /api/sync {"channel_id", "force"}: 202 {"status": "started", "job_id", ...}."""
    denial = identity_denial(kbsync)  # a connection acts with the server's identity
    return denial or _answer(_start_sync, kbsync, payload, visible)


def _start_sync(kbsync: Kbsync, payload: Mapping, visible) -> ApiReply:
    channel_id = _read_id(payload.get("channel_id"), "channel_id")
    force = payload.get("force", False)
    if not isinstance(force, bool):
        raise _invalid("force must be true or false.")
    sent = [name for name in SECRET_FIELDS if payload.get(name) not in (None, "")]
    if sent:
        raise _invalid(
            f"A channel syncs with its connection's identity: {', '.join(sent)} cannot be sent."
        )
    try:
        description = validate_description(payload.get("description"))
    except RequestValidationError as error:
        raise _invalid(error.message) from None
    connection = _channel(kbsync, channel_id, visible)
    execution = kbsync.engine.start_sync(
        SyncRequest(
            connection.target,
            credentials_for(connection),
            description,
            connection.id,
            trigger=TRIGGER_API,
        )
    )
    execution = _start_outcome(kbsync, execution)
    failure = failure_of(execution)
    if failure is not None:
        return error_reply(failure, execution.id)
    body = {
        "status": "started",
        "job_id": execution.id,
        "channel_id": connection.id,
        "estimated_messages": kbsync.progress.of(execution).documents_expected,
        "started_at": execution.started_at,
        "force_applied": False,
    }
    if force:
        body["note"] = FORCE_NOTE
    return ApiReply(202, body)


def _start_outcome(kbsync: Kbsync, execution: Execution) -> Execution:
    """The execution once AWS answered StartIngestionJob (a job, or a refusal), or as it is
    after START_WAIT_SECONDS (transient errors are still being retried: it stays queued)."""
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        current = kbsync.store.get(execution.id) or execution
        if current.job_id or current.status.is_final:
            return current
        time.sleep(START_WAIT_POLL_SECONDS)
    return kbsync.store.get(execution.id) or execution


def sync_status(
    kbsync: Kbsync, channel_id: Any, job_id: Any, visible: tuple[str, ...] | None
) -> ApiReply:
    """GET /api/sync/status?channel_id=&job_id=: the sync (the channel's latest without
    job_id), its progress, stage and estimated completion; a failed one with its error."""
    return _answer(_sync_status, kbsync, channel_id, job_id, visible)


def _sync_status(kbsync: Kbsync, channel_id: Any, job_id: Any, visible) -> ApiReply:
    channel_id = _read_id(channel_id, "channel_id")
    job_id = _read_id(job_id, "job_id", required=False)
    _channel(kbsync, channel_id, visible)
    if job_id is not None:
        execution = _channel_job(kbsync, channel_id, job_id)
    else:
        latest = kbsync.store.list_for_connection(channel_id, limit=1)
        if not latest:
            raise ChannelRequestError(
                SyncError(JOB_NOT_FOUND, f"Channel {channel_id} has not synced yet.")
            )
        execution = latest[0]
    return ApiReply(200, status_body(execution, kbsync.progress.of(execution), channel_id))


def status_body(execution: Execution, progress: Progress, channel_id: str) -> dict:
    statistics = execution.statistics or {}
    scanned = int(statistics.get(SCANNED) or 0)
    total = scanned if execution.status is ExecutionStatus.COMPLETADO else None
    failure = failure_of(execution)
    body = {
        "job_id": execution.id,
        "channel_id": channel_id,
        "status": STATUSES[execution.status],
        "progress": {
            "total_messages": total if total is not None else progress.documents_expected,
            "processed_messages": scanned,
            "failing_messages": progress.documents_failed,
            "percentage": progress.percentage,
        },
        "started_at": execution.started_at,
        "estimated_completion": progress.estimated_completion,
        "current_stage": progress.stage,
        # kbsync's additions
        "completed_at": execution.finished_at,
        "aws_job_id": execution.job_id,
        "error": failure.to_dict() if failure else None,
    }
    return body


def sync_history(
    kbsync: Kbsync, channel_id: Any, limit: Any, visible: tuple[str, ...] | None
) -> ApiReply:
    """GET /api/sync/history?channel_id=&limit=: the channel's syncs, newest first."""
    return _answer(_sync_history, kbsync, channel_id, limit, visible)


def _read_limit(limit: Any) -> int:
    if limit is None or limit == "":
        return HISTORY_LIMIT_DEFAULT
    low, high = HISTORY_LIMIT_RANGE
    text = str(limit).strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise _invalid(f"limit must be a whole number from {low} to {high}.")
    return int(text)


def _sync_history(kbsync: Kbsync, channel_id: Any, limit: Any, visible) -> ApiReply:
    channel_id = _read_id(channel_id, "channel_id")
    limit = _read_limit(limit)
    _channel(kbsync, channel_id, visible)
    executions = kbsync.store.list_for_connection(channel_id, limit=limit)
    return ApiReply(200, {"history": [history_row(e, channel_id) for e in executions]})


def history_row(execution: Execution, channel_id: str) -> dict:
    statistics = execution.statistics or {}
    duration = None
    if execution.finished_at:
        seconds = parse_iso(execution.finished_at) - parse_iso(execution.started_at)
        duration = round(seconds.total_seconds(), 1)
    synced = None
    if SCANNED in statistics:
        # Documents the sync went through without failing: AWS's scanned less its failed.
        synced = int(statistics[SCANNED]) - int(statistics.get("numberOfDocumentsFailed") or 0)
    failure = failure_of(execution)
    return {
        "job_id": execution.id,
        "channel_id": channel_id,
        "status": STATUSES[execution.status],
        "started_at": execution.started_at,
        "completed_at": execution.finished_at,
        "duration_seconds": duration,
        "messages_synced": synced,
        # The seed's chat pipeline counts facts and entities; Bedrock has no such thing.
        "facts_extracted": None,
        "entities_created": None,
        "error": failure.to_dict() if failure else None,
        # kbsync's addition: AWS's own counters.
        "statistics": dict(statistics),
    }


def cancel_sync(kbsync: Kbsync, payload: Any, visible: tuple[str, ...] | None) -> ApiReply:
    """POST /api/sync/cancel {"job_id"}: the stop is stored before this answers, so it holds
    whichever replica works the sync; AWS then stops the job (status cancelled once it has)."""
    return _answer(_cancel_sync, kbsync, payload, visible)


def _cancel_sync(kbsync: Kbsync, payload: Any, visible) -> ApiReply:
    if not isinstance(payload, Mapping):
        raise _invalid("The request body must be a JSON object.")
    job_id = _read_id(payload.get("job_id"), "job_id")
    channel_id = kbsync.store.connection_of(job_id)
    if channel_id is None or (visible is not None and channel_id not in visible):
        # Only a channel's syncs: one started with an operator's keys is no channel's.
        raise ChannelRequestError(
            SyncError(JOB_NOT_FOUND, f"No channel has a sync {job_id}."), job_id
        )
    cancelled_at = iso_utc(utc_now())
    try:
        kbsync.engine.stop_sync(job_id)
    except ExecutionNotFoundError:
        raise ChannelRequestError(
            SyncError(JOB_NOT_FOUND, f"No channel has a sync {job_id}."), job_id
        ) from None
    except ExecutionFinishedError:
        execution = kbsync.store.get(job_id)
        status = STATUSES[execution.status] if execution else "ended"
        raise ChannelRequestError(
            SyncError(JOB_ENDED, f"The sync already ended ({status}): nothing to cancel."),
            job_id,
        ) from None
    except NotMonitoredError as error:
        # Its connection was deleted: nobody has credentials to stop it.
        raise ChannelRequestError(SyncError(CHANNEL_NOT_FOUND, str(error)), job_id) from None
    return ApiReply(
        200,
        {
            "status": "cancelled",
            "job_id": job_id,
            "channel_id": channel_id,
            "cancelled_at": cancelled_at,
        },
    )
