"""A table job as seed 004's POST /jobs/create gives it, checked all at once: every problem is
found and reported together, each with the seed's code, so an operator fixes them in one go.

The answer's code is the problems' code when they share one, INVALID_REQUEST otherwise (and
for what is missing or of the wrong type); `details` has one line per problem.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kbsync_core.errors import ScheduleInvalidError, TableJobInvalidError
from kbsync_core.schedule_spec import INTERVAL_FORMATS, parse_interval, parse_moment
from kbsync_core.tables.sources import SourceTable, parse_source_table

INVALID_REQUEST = "INVALID_REQUEST"
DUPLICATE_JOB = "DUPLICATE_JOB"
INVALID_TABLE = "INVALID_TABLE"
INVALID_KB = "INVALID_KB"
INVALID_INTERVAL = "INVALID_INTERVAL"
INVALID_DATETIME = "INVALID_DATETIME"

# The seed's description of each code: the answer's message.
MESSAGES = {
    INVALID_REQUEST: "Invalid job configuration",
    DUPLICATE_JOB: "Job with the same name already exists",
    INVALID_TABLE: "Source table does not exist or is inaccessible",
    INVALID_KB: "Knowledge base does not exist",
    INVALID_INTERVAL: "Interval format is not supported",
    INVALID_DATETIME: "Start or end time format is invalid",
}

REQUIRED = (
    "job_name",
    "source_table",
    "kb_name",
    "content_columns",
    "filter_column",
    "interval",
    "start_time",
    "end_time",
)
NAME_MAX_LENGTH = 200
COLUMN_MAX_LENGTH = 200
MAX_CONTENT_COLUMNS = 100
MAX_ACTIVE_JOBS = 100
MAX_DURATION = timedelta(days=30)
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class TableJobProblem:
    """One thing wrong: the field, the seed's code, a line for `details`."""

    field: str
    code: str
    message: str


@dataclass(frozen=True)
class JobRequest:
    """The body's fields, as far as they could be read (None where a problem was found)."""

    job_name: str | None
    source_table: SourceTable | None
    kb_name: str | None
    content_columns: list[str] | None
    filter_column: str | None
    interval: str | None
    start: datetime | None
    end: datetime | None


def invalid(problems: list[TableJobProblem]) -> TableJobInvalidError:
    codes = {problem.code for problem in problems}
    code = codes.pop() if len(codes) == 1 else INVALID_REQUEST
    return TableJobInvalidError(code, MESSAGES[code], problems)


def read_request(payload: Any, problems: list[TableJobProblem]) -> JobRequest:
    """The body's fields, each checked on its own (problems appended); what needs the store,
    the source or AWS is checked by the caller."""
    if not isinstance(payload, Mapping):
        problems.append(TableJobProblem("body", INVALID_REQUEST, "the body must be a JSON object"))
        return JobRequest(None, None, None, None, None, None, None, None)
    for name in REQUIRED:
        value = payload.get(name)
        if value is None or (isinstance(value, str | list) and not value):
            problems.append(TableJobProblem(name, INVALID_REQUEST, f"{name} is required"))
    job_name = _text(payload, "job_name", NAME_MAX_LENGTH, problems)
    kb_name = _text(payload, "kb_name", NAME_MAX_LENGTH, problems)
    filter_column = _text(payload, "filter_column", COLUMN_MAX_LENGTH, problems)
    source_table = None
    raw_table = _text(payload, "source_table", 400, problems)
    if raw_table is not None:
        source_table = parse_source_table(raw_table)
        if source_table is None:
            problems.append(
                TableJobProblem(
                    "source_table",
                    INVALID_TABLE,
                    f"source_table {raw_table!r} must be <source>.<table> or "
                    "<source>.<schema>.<table>",
                )
            )
    content_columns = _columns(payload.get("content_columns"), problems)
    interval = _interval(payload.get("interval"), problems)
    start = _moment(payload.get("start_time"), "start_time", problems)
    end = _moment(payload.get("end_time"), "end_time", problems)
    if start is not None and end is not None:
        if end <= start:
            problems.append(
                TableJobProblem("end_time", INVALID_DATETIME, "end_time must be after start_time")
            )
        elif end - start > MAX_DURATION:
            problems.append(
                TableJobProblem(
                    "end_time",
                    INVALID_DATETIME,
                    f"a job lasts at most {MAX_DURATION.days} days (end_time - start_time)",
                )
            )
    return JobRequest(
        job_name, source_table, kb_name, content_columns, filter_column, interval, start, end
    )


def _text(payload: Mapping, name: str, limit: int, problems: list) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None  # "is required" was said
    if not isinstance(value, str) or not value.strip():
        problems.append(TableJobProblem(name, INVALID_REQUEST, f"{name} must be a text"))
        return None
    if len(value.strip()) > limit:
        problems.append(
            TableJobProblem(name, INVALID_REQUEST, f"{name} is longer than {limit} characters")
        )
        return None
    return value.strip()


def _columns(value: Any, problems: list) -> list[str] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        problems.append(
            TableJobProblem(
                "content_columns", INVALID_REQUEST, "content_columns must be a list of column names"
            )
        )
        return None
    columns = [item.strip() for item in value]
    if len(columns) > MAX_CONTENT_COLUMNS:
        problems.append(
            TableJobProblem(
                "content_columns",
                INVALID_REQUEST,
                f"content_columns holds at most {MAX_CONTENT_COLUMNS} columns",
            )
        )
        return None
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        problems.append(
            TableJobProblem(
                "content_columns",
                INVALID_REQUEST,
                f"content_columns names {', '.join(repeated)} more than once",
            )
        )
        return None
    return columns


def _interval(value: Any, problems: list) -> str | None:
    if value is None or value == "":
        return None
    message = f"invalid interval format: use {INTERVAL_FORMATS}, at least 1 minute"
    if not isinstance(value, str) or len(value) > 32:
        problems.append(TableJobProblem("interval", INVALID_INTERVAL, message))
        return None
    try:
        parsed = parse_interval(value)
    except ScheduleInvalidError as error:
        problems.append(TableJobProblem("interval", INVALID_INTERVAL, f"interval: {error}"))
        return None
    if parsed is None:
        problems.append(
            TableJobProblem(
                "interval",
                INVALID_INTERVAL,
                f"invalid interval format {value!r}: use {INTERVAL_FORMATS}",
            )
        )
        return None
    return " ".join(value.split()).upper()


def _moment(value: Any, name: str, problems: list) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(TableJobProblem(name, INVALID_DATETIME, f"{name} must be an ISO 8601 text"))
        return None
    try:
        # Without an offset: UTC (the seed's `2025-06-19T18:00:00`).
        return parse_moment(value, UTC, name)
    except ScheduleInvalidError:
        problems.append(
            TableJobProblem(
                name,
                INVALID_DATETIME,
                f"{name} {value.strip()!r} is not an ISO 8601 date and time "
                "(2025-06-19T18:00:00, UTC unless it has Z or an offset)",
            )
        )
        return None
