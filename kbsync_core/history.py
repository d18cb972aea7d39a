"""Past syncs of a data source: AWS's ingestion jobs merged with kbsync's own executions.

An AWS job becomes a row of seed 001's shape (id `aws-<jobId>`, source AWS). A local execution
that started or watched job <jobId> is the same sync: one row, the local one, with AWS's newer
status and statistics folded in and the local logs kept (DESIGN.md, "Merge rule").
"""

import threading
import time
from collections.abc import Callable
from datetime import date, datetime

import pandas as pd

from kbsync_core.aws import AwsClients
from kbsync_core.engine import SyncEngine
from kbsync_core.models import (
    AWS_SOURCE,
    AWS_TERMINAL_STATUSES,
    Execution,
    ExecutionStatus,
    SyncTarget,
    map_aws_status,
)
from kbsync_core.timefmt import es_local_time, iso_utc, log_line, parse_iso, utc_now
from kbsync_core.validation import HistoryRequest

AWS_ID_PREFIX = "aws-"
AWS_HISTORY_TTL_SECONDS = 15.0
AWS_PAGE_SIZE = 100
# Every read fetches the most any request may ask for, so one cached answer per data source and
# credentials serves every maxResults (a single ListIngestionJobs call either way).
AWS_HISTORY_FETCH = 100

LOG_RETRIEVED = "Historial recuperado desde AWS."

# The DataFrame's columns, in the order an operator reads a sync.
FRAME_COLUMNS = [
    "id", "status", "source", "jobId", "startedAt", "finishedAt", "durationSeconds",
    "documentsScanned", "documentsIndexed", "documentsDeleted", "documentsFailed",
    "description", "awsStatus",
]


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else parse_iso(str(value))


def fetch_aws_jobs(client, target: SyncTarget, max_results: int) -> list[dict]:
    """The data source's newest ingestion jobs, newest first, at most `max_results`."""
    paginator = client.get_paginator("list_ingestion_jobs")
    pages = paginator.paginate(
        knowledgeBaseId=target.knowledge_base_id,
        dataSourceId=target.data_source_id,
        sortBy={"attribute": "STARTED_AT", "order": "DESCENDING"},
        PaginationConfig={"MaxItems": max_results, "PageSize": min(max_results, AWS_PAGE_SIZE)},
    )
    jobs = [summary for page in pages for summary in page["ingestionJobSummaries"]]
    return jobs[:max_results]


def aws_job_rows(summaries: list[dict], retrieved_at: datetime | None = None) -> list[dict]:
    retrieved_line = log_line(LOG_RETRIEVED, retrieved_at)
    return [aws_job_row(summary, retrieved_line) for summary in summaries]


def aws_job_row(summary: dict, retrieved_line: str | None = None) -> dict:
    """One AWS ingestion job in seed 001's shape, plus its statistics and description."""
    started = _as_datetime(summary["startedAt"])
    updated = _as_datetime(summary["updatedAt"])
    status = summary["status"]
    row = {
        "id": AWS_ID_PREFIX + summary["ingestionJobId"],
        "source": AWS_SOURCE,
        "jobId": summary["ingestionJobId"],
        "status": str(map_aws_status(status)),
        "startedAt": iso_utc(started),
        "logs": [
            retrieved_line or log_line(LOG_RETRIEVED),
            f"Ingestion Job ID: {summary['ingestionJobId']}",
            f"Estado AWS: {status}",
            f"Iniciado: {es_local_time(started)}",
            f"Última actualización: {es_local_time(updated)}",
        ],
        "awsStatus": status,
        "statistics": dict(summary.get("statistics") or {}),
        "description": summary.get("description") or "",
        "failureReasons": [],
    }
    if status in AWS_TERMINAL_STATUSES:
        row["finishedAt"] = iso_utc(updated)
    return row


def merge_history(local: list[Execution], aws_rows: list[dict]) -> list[dict]:
    """One row per sync, newest first: local executions with AWS's view of their job folded in."""
    aws_by_job = {row["jobId"]: row for row in aws_rows}
    merged: list[dict] = []
    claimed_jobs: set[str] = set()
    for execution in local:
        row = execution.to_dict()
        aws_row = aws_by_job.get(execution.job_id or "")
        if aws_row is not None:
            claimed_jobs.add(execution.job_id)
            watch_lost = execution.status is ExecutionStatus.FALLIDO and "finishedAt" in aws_row
            if not execution.status.is_final or watch_lost:
                # AWS knows better than a run we are not (or no longer) watching to the end,
                # or one whose watching failed (an expired token, say) while the job went on.
                row["status"] = aws_row["status"]
                row["awsStatus"] = aws_row["awsStatus"]
                if "finishedAt" in aws_row:
                    row["finishedAt"] = aws_row["finishedAt"]
            if aws_row["statistics"] and (
                not execution.status.is_final or watch_lost or not execution.statistics
            ):
                row["statistics"] = aws_row["statistics"]
        merged.append(row)
    merged.extend(row for row in aws_rows if row["jobId"] not in claimed_jobs)
    merged.sort(key=lambda row: row["startedAt"], reverse=True)
    return merged


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


class HistoryService:
    """Reads a data source's history: AWS (cached briefly, shared by every session) + local.

    Reading AWS history with valid credentials is also when interrupted executions of that
    data source take their final state from AWS.
    """

    def __init__(
        self,
        engine: SyncEngine,
        clients: AwsClients,
        ttl_seconds: float = AWS_HISTORY_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.engine = engine
        self.clients = clients
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple, tuple[float, datetime, list[dict]]] = {}
        self._lock = threading.Lock()
        # One lock per cache key, so that many sessions asking at once make one AWS call.
        self._key_locks: dict[tuple, threading.Lock] = {}
        self._failure_reasons: dict[tuple, list[str]] = {}

    def aws_jobs(
        self, request: HistoryRequest, *, refresh: bool = False
    ) -> tuple[datetime, list[dict]]:
        """When AWS was read, and its newest job summaries (up to 100); read at most once per
        TTL per (data source, credentials), however many sessions ask."""
        key = (request.target, request.credentials.cache_key)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self._cache.get(key)
            if cached and not refresh and self._clock() - cached[0] < self.ttl_seconds:
                return cached[1], cached[2]
            client = self.clients.bedrock_agent(request.credentials, request.target.region)
            jobs = fetch_aws_jobs(client, request.target, AWS_HISTORY_FETCH)
            self.engine.reconcile_interrupted(
                request.target, request.credentials, {job["ingestionJobId"]: job for job in jobs}
            )
            fetched_at = utc_now()
            self._cache[key] = (self._clock(), fetched_at, jobs)
            return fetched_at, jobs

    def failure_reasons(self, request: HistoryRequest, row: dict) -> list[str]:
        """Why a history row's sync failed. Listings leave AWS's reasons out, so a failed AWS
        job is asked for once; an ended job's reasons never change, so the answer is kept."""
        if row.get("failureReasons") or row["status"] != ExecutionStatus.FALLIDO:
            return list(row.get("failureReasons") or [])
        if row["source"] != AWS_SOURCE or not row.get("jobId"):
            return []
        key = (request.target, row["jobId"])
        with self._lock:
            if key in self._failure_reasons:
                return self._failure_reasons[key]
        client = self.clients.bedrock_agent(request.credentials, request.target.region)
        job = client.get_ingestion_job(
            knowledgeBaseId=request.target.knowledge_base_id,
            dataSourceId=request.target.data_source_id,
            ingestionJobId=row["jobId"],
        )["ingestionJob"]
        reasons = list(job.get("failureReasons") or [])
        with self._lock:
            self._failure_reasons[key] = reasons
        return reasons

    def read(self, request: HistoryRequest, *, refresh: bool = False) -> list[dict]:
        """Merged history rows of the request's data source, newest first, at most maxResults."""
        retrieved_at, jobs = self.aws_jobs(request, refresh=refresh)
        jobs = jobs[: request.max_results]
        local = self.engine.store.list_for_target(request.target, limit=request.max_results)
        return merge_history(local, aws_job_rows(jobs, retrieved_at))[: request.max_results]
