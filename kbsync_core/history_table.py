"""The merged history as a pandas table, for the console's History page (and its CSV).

Apart from history.py because pandas (with pyarrow) costs a process ~60 MB: the JSON API and a
replica with no console page open never import it.
"""

from collections.abc import Callable, Mapping
from datetime import date

import pandas as pd

from kbsync_core.models import AWS_SOURCE, TRIGGER_AWS, ExecutionStatus

# AWS's statistics, as the AWS console's data source page counts a sync's documents.
COUNT_COLUMNS = {
    "documentsScanned": "numberOfDocumentsScanned",
    "documentsNew": "numberOfNewDocumentsIndexed",
    "documentsModified": "numberOfModifiedDocumentsIndexed",
    "documentsDeleted": "numberOfDocumentsDeleted",
    "documentsFailed": "numberOfDocumentsFailed",
    "metadataScanned": "numberOfMetadataDocumentsScanned",
}
# The DataFrame's columns, in the order an operator reads a sync.
FRAME_COLUMNS = [
    "id", "status", "source", "trigger", "jobId", "startedAt", "finishedAt", "durationSeconds",
    *COUNT_COLUMNS, "description", "awsStatus",
]
CSV_DURATION_DECIMALS = 1


def is_sync(row: Mapping) -> bool:
    """Whether a history row is a sync. A local attempt that AWS refused (FALLIDO with no job:
    a ConflictException on start, denied keys...) never became one: the console leaves it out
    of History, its counts and its charts. The JSON API keeps seed 001's rows as they are."""
    return not (
        row.get("source") != AWS_SOURCE
        and row.get("status") == ExecutionStatus.FALLIDO
        and not row.get("jobId")
    )


def trigger_of(row: Mapping) -> str | None:
    """Who started the sync (console, api, schedule, aws); None when kbsync did not record it.
    A job kbsync only knows from AWS was started by someone in AWS."""
    return row.get("trigger") or (TRIGGER_AWS if row.get("source") == AWS_SOURCE else None)


def history_frame(rows: list[dict]) -> pd.DataFrame:
    """The merged rows as a table: one row per sync, times as datetimes, counts as integers
    (missing when AWS has not counted yet), durations in seconds (missing until it ends)."""
    frame = pd.DataFrame.from_records(
        [
            {
                "id": row["id"],
                "status": row["status"],
                "source": row["source"],
                "trigger": trigger_of(row),
                "jobId": row.get("jobId"),
                "startedAt": row["startedAt"],
                "finishedAt": row.get("finishedAt"),
                "description": row.get("description") or None,
                "awsStatus": row.get("awsStatus"),
                **_counts(row.get("statistics") or {}),
            }
            for row in rows
        ],
        columns=[c for c in FRAME_COLUMNS if c != "durationSeconds"],
    )
    frame["startedAt"] = pd.to_datetime(frame["startedAt"], utc=True, format="ISO8601")
    frame["finishedAt"] = pd.to_datetime(frame["finishedAt"], utc=True, format="ISO8601")
    frame["durationSeconds"] = (frame["finishedAt"] - frame["startedAt"]).dt.total_seconds()
    for column in COUNT_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    return frame[FRAME_COLUMNS]


def filter_history(
    frame: pd.DataFrame, statuses: list[str] = (), dates: tuple[date, ...] = ()
) -> pd.DataFrame:
    """Rows whose status is one of `statuses` (all when empty) and that started on or between
    `dates` (one date: that day; two: that range, inclusive; UTC days)."""
    if statuses:
        frame = frame[frame["status"].isin(list(statuses))]
    if dates:
        first, last = dates[0], dates[-1]
        started_on = frame["startedAt"].dt.date
        frame = frame[(started_on >= first) & (started_on <= last)]
    return frame


def history_csv(
    frame: pd.DataFrame,
    headers: Mapping[str, str],
    status_words: Callable[[str], str],
    failure_reasons: Mapping[str, list[str]],
) -> str:
    """The table as CSV: the seeds' status code and its words, UTC ISO times, durations
    rounded to a tenth of a second, and each sync's failure reasons (" | " between two).
    `headers` names each column in the reader's language."""
    csv = pd.DataFrame(
        {
            "jobId": frame["jobId"],
            "statusCode": frame["status"],
            "status": frame["status"].map(status_words),
            "trigger": frame["trigger"],
            "startedAt": frame["startedAt"].map(_iso),
            "finishedAt": frame["finishedAt"].map(_iso),
            "durationSeconds": frame["durationSeconds"].round(CSV_DURATION_DECIMALS),
            **{column: frame[column] for column in COUNT_COLUMNS},
            "description": frame["description"],
            "failureReasons": frame["id"].map(
                lambda row_id: " | ".join(failure_reasons.get(row_id) or [])
            ),
            "id": frame["id"],
        }
    )
    return csv.rename(columns=dict(headers)).to_csv(index=False)


def _iso(moment) -> str | None:
    if moment is None or moment != moment:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _counts(statistics: dict) -> dict:
    return {column: statistics.get(key) for column, key in COUNT_COLUMNS.items()}
