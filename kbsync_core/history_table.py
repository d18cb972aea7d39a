"""The merged history as a pandas table, for the console's History page (and its CSV).

Apart from history.py because pandas (with pyarrow) costs a process ~60 MB: the JSON API and a
replica with no console page open never import it.
"""

from datetime import date

import pandas as pd

# The DataFrame's columns, in the order an operator reads a sync.
FRAME_COLUMNS = [
    "id", "status", "source", "jobId", "startedAt", "finishedAt", "durationSeconds",
    "documentsScanned", "documentsIndexed", "documentsDeleted", "documentsFailed",
    "description", "awsStatus",
]


def history_frame(rows: list[dict]) -> pd.DataFrame:
    """The merged rows as a table: one row per sync, times as datetimes, counts as integers."""
    frame = pd.DataFrame.from_records(
        [
            {
                "id": row["id"],
                "status": row["status"],
                "source": row["source"],
                "jobId": row.get("jobId"),
                "startedAt": row["startedAt"],
                "finishedAt": row.get("finishedAt"),
                "description": row.get("description", ""),
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


def _counts(statistics: dict) -> dict:
    return {
        "documentsScanned": statistics.get("numberOfDocumentsScanned", 0),
        "documentsIndexed": statistics.get("numberOfNewDocumentsIndexed", 0)
        + statistics.get("numberOfModifiedDocumentsIndexed", 0),
        "documentsDeleted": statistics.get("numberOfDocumentsDeleted", 0),
        "documentsFailed": statistics.get("numberOfDocumentsFailed", 0),
    }


