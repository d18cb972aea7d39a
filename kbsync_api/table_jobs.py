"""Seed 004's jobs API on kbsync: table jobs, rows of a SQL table into a knowledge base on a
schedule (kbsync_core/tables/ does the work; this module only translates).

- `POST /jobs/create` (the seed's path) and `POST /api/jobs/create`: the seed's body, its
  `201 {"success": true, "message", "data"}` and its error shape `{"success": false, "error":
  {"code", "message", "details"}}` with its codes; a duplicate name is a 400 DUPLICATE_JOB, as
  the seed's error table puts it (every seed error is a 400);
- kbsync's additions in the same shape: `GET /api/jobs`, `GET /api/jobs/{id}` (with its runs),
  `POST /api/jobs/{id}/pause|resume|run`, `DELETE /api/jobs/{id}`, `GET /api/sources`, and on
  the sandbox `POST /api/sandbox/orders` (sample rows, to watch an incremental load);
- every error of these paths, the token check's and the method check's included, in the seed's
  shape (`in_seed_shape`), with a code of kbsync's where the seed has none (UNAUTHORIZED,
  FORBIDDEN, JOB_NOT_FOUND, JOB_RUNNING...);
- a token limited to connections creates jobs only on them (`kb_name` one of its connections)
  and sees and changes only their jobs: any other is "not found".

Framework-free, as kbsync_api.contract: each function takes what the request carried and the
process's Kbsync, and returns an ApiReply.
"""

import logging
from dataclasses import replace
from typing import Any

from kbsync_api.contract import ApiReply
from kbsync_core.errors import (
    SourceError,
    TableJobBusyError,
    TableJobInvalidError,
    TableJobNotFoundError,
)
from kbsync_core.runtime import Kbsync
from kbsync_core.tables.sample import SAMPLE_SOURCE, SAMPLE_TABLE
from kbsync_core.tables.validation import INVALID_KB, INVALID_REQUEST, MESSAGES

logger = logging.getLogger(__name__)

# kbsync's codes, for the errors the seed does not name (its shape, its manner).
UNAUTHORIZED = "UNAUTHORIZED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
JOB_NOT_FOUND = "JOB_NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
JOB_RUNNING = "JOB_RUNNING"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
INTERNAL_ERROR = "INTERNAL_ERROR"
# The code of an error reply made elsewhere (the token check, the body reader), by status.
CODES_BY_STATUS = {
    400: INVALID_REQUEST,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: JOB_RUNNING,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}

CREATED = "Job created successfully"  # the seed's
JOB_NOT_FOUND_MESSAGE = "Job {id} not found"
PAUSED = "Job paused"
RESUMED = "Job resumed"
DELETED = "Job deleted"
RUN_STARTED = "Run started"
ROWS_ADDED = "Sample rows added"
OUTSIDE_THE_CONNECTIONS = (
    "kb_name {kb_name!r} is not one of the connections this token may use ({connections})"
)
NO_SAMPLE_SOURCE = "There is no sample source here: it exists only on the sandbox backend."
COUNT_INVALID = "count must be a whole number from 1 to 100"
UNEXPECTED_ERROR = "An unexpected error occurred; the server's log has the details."
UNKNOWN_PATH = "There is no endpoint {method} {path}."
DEFAULT_SAMPLE_ROWS = 3
MAX_SAMPLE_ROWS = 100


# -- the seed's shape ------------------------------------------------------------------------


def seed_error(status: int, code: str, message: str, details: list[str] | None = None) -> ApiReply:
    return ApiReply(
        status,
        {"success": False, "error": {"code": code, "message": message, "details": details or []}},
    )


def success(status: int, data: Any, message: str | None = None) -> ApiReply:
    body: dict[str, Any] = {"success": True}
    if message is not None:
        body["message"] = message
    body["data"] = data
    return ApiReply(status, body)


def in_seed_shape(_path: str, reply: ApiReply) -> ApiReply:
    """Any error reply of these paths in the seed's shape. Those made here already are; the
    token check's, the method check's, the body reader's and the internal error's (kbsync's
    `{"error"}`) are rewritten, their message kept (a 500's names the kind of failure only)
    and their headers (WWW-Authenticate, Allow) too."""
    body = reply.body if isinstance(reply.body, dict) else {}
    if body.get("success") is False:
        return reply
    if reply.status >= 500:
        code, message = INTERNAL_ERROR, str(body.get("error") or UNEXPECTED_ERROR)
    else:
        code = CODES_BY_STATUS.get(reply.status, INVALID_REQUEST)
        message = str(body.get("error") or code)
    details = [message] if reply.status == 400 else []
    shaped = seed_error(reply.status, code, message, details)
    return replace(reply, body=shaped.body, encoded=None)


def unknown_path(method: str, path: str) -> ApiReply:
    return seed_error(404, NOT_FOUND, UNKNOWN_PATH.format(method=method, path=path))


def _not_found(job_id: str) -> ApiReply:
    return seed_error(404, JOB_NOT_FOUND, JOB_NOT_FOUND_MESSAGE.format(id=job_id))


def _invalid(error: TableJobInvalidError) -> ApiReply:
    return seed_error(400, error.code, error.message, error.details)


# -- POST /jobs/create, /api/jobs/create ------------------------------------------------------


def create_job(kbsync: Kbsync, payload: Any, visible: tuple[str, ...] | None = None) -> ApiReply:
    """201 with the seed's `data` (job_id, job_name, status, created_at, next_run); 400 with
    every problem at once (TableJobInvalidError's code and details)."""
    outside = _outside_connections(payload, visible)
    if outside is not None:
        return outside
    try:
        record = kbsync.table_jobs.create(payload)
    except TableJobInvalidError as error:
        return _invalid(error)
    return success(201, kbsync.table_jobs.data(record), CREATED)


def _outside_connections(payload: Any, visible: tuple[str, ...] | None) -> ApiReply | None:
    """A token limited to connections makes jobs only on them: any other kb_name (a knowledge
    base's name too) is refused as the seed refuses an unknown knowledge base."""
    if visible is None or not isinstance(payload, dict):
        return None
    kb_name = payload.get("kb_name")
    if isinstance(kb_name, str) and kb_name.strip() in visible:
        return None
    detail = OUTSIDE_THE_CONNECTIONS.format(
        kb_name=kb_name, connections=", ".join(visible) or "none"
    )
    return seed_error(400, INVALID_KB, MESSAGES[INVALID_KB], [detail])


# -- the jobs ----------------------------------------------------------------------------------


def list_jobs(kbsync: Kbsync, visible: tuple[str, ...] | None = None) -> ApiReply:
    """200 `{"jobs": [...]}`, oldest first, each with its last run."""
    jobs = [
        job
        for job in kbsync.table_jobs.list()
        if visible is None or job["connection_id"] in visible
    ]
    return success(200, {"jobs": jobs, "total": len(jobs)})


def get_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None = None) -> ApiReply:
    """200 with the job: the seed's `data` fields, its settings, its watermark and its runs."""
    try:
        _visible_job(kbsync, job_id, visible)
        return success(200, kbsync.table_jobs.body(job_id))
    except TableJobNotFoundError:
        return _not_found(job_id)


def pause_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None = None) -> ApiReply:
    return _change(kbsync, job_id, visible, kbsync.table_jobs.pause, PAUSED)


def resume_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None = None) -> ApiReply:
    return _change(kbsync, job_id, visible, kbsync.table_jobs.resume, RESUMED)


def _change(kbsync: Kbsync, job_id: str, visible, change, message: str) -> ApiReply:
    try:
        _visible_job(kbsync, job_id, visible)
        return success(200, kbsync.table_jobs.data(change(job_id)), message)
    except TableJobNotFoundError:
        return _not_found(job_id)


def run_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None = None) -> ApiReply:
    """202 with the run just started (it goes on in the background: GET the job to follow it);
    409 JOB_RUNNING while a run of the job is under way."""
    try:
        _visible_job(kbsync, job_id, visible)
        run = kbsync.table_jobs.run_now(job_id)
    except TableJobNotFoundError:
        return _not_found(job_id)
    except TableJobBusyError as error:
        return seed_error(409, JOB_RUNNING, str(error))
    return success(202, {"job_id": job_id, **_run_data(run)}, RUN_STARTED)


def _run_data(run) -> dict:
    return {
        "run_id": run.id,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def delete_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None = None) -> ApiReply:
    """200 once the job and its runs are gone (an ingestion job a run made keeps its history)."""
    try:
        _visible_job(kbsync, job_id, visible)
        kbsync.table_jobs.delete(job_id)
    except TableJobNotFoundError:
        return _not_found(job_id)
    return success(200, {"job_id": job_id}, DELETED)


def _visible_job(kbsync: Kbsync, job_id: str, visible: tuple[str, ...] | None) -> None:
    """TableJobNotFoundError for no such job, or one a token limited to connections may not
    see (a job on a knowledge base named directly is on none of its connections)."""
    record = kbsync.table_jobs.get(job_id)
    if visible is not None and record.connection_id not in visible:
        raise TableJobNotFoundError(JOB_NOT_FOUND_MESSAGE.format(id=job_id))


# -- the sources -------------------------------------------------------------------------------


def list_sources(kbsync: Kbsync) -> ApiReply:
    """200 `{"sources": [{"name", "tables": [{"source_table", "columns": [...]}]}]}`; a source
    that cannot be read says why in `error` (its URL and password never: SourceError's words
    are redacted). Never a URL."""
    sources = []
    for name in kbsync.table_jobs.source_names():
        entry: dict[str, Any] = {"name": name, "tables": [], "error": None}
        try:
            for source_table in kbsync.table_jobs.tables(name):
                columns = kbsync.table_jobs.columns(source_table)
                entry["tables"].append(
                    {
                        "source_table": source_table,
                        "columns": [
                            {
                                "name": column.name,
                                "type": column.type,
                                "nullable": column.nullable,
                                "primary_key": column.primary_key,
                            }
                            for column in columns
                        ],
                    }
                )
        except SourceError as error:
            entry["error"] = str(error)
        sources.append(entry)
    return success(200, {"sources": sources})


def add_sample_rows(kbsync: Kbsync, payload: Any) -> ApiReply:
    """POST /api/sandbox/orders `{"count": 3}` (1 to 100; `{}` adds 3): 201 with the new rows'
    order_ids, the first sharing the newest row's created_at. 404 where there is no sample
    source (the aws backend)."""
    if not kbsync.settings.uses_sandbox:
        return seed_error(404, NOT_FOUND, NO_SAMPLE_SOURCE)
    count = payload.get("count", DEFAULT_SAMPLE_ROWS) if isinstance(payload, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SAMPLE_ROWS:
        return seed_error(400, INVALID_REQUEST, MESSAGES[INVALID_REQUEST], [COUNT_INVALID])
    try:
        ids = kbsync.table_jobs.add_sample_rows(count)
    except SourceError:
        return seed_error(404, NOT_FOUND, NO_SAMPLE_SOURCE)
    data = {"source_table": f"{SAMPLE_SOURCE}.{SAMPLE_TABLE}", "order_ids": ids}
    return success(201, data, ROWS_ADDED)
