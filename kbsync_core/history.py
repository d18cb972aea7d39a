"""Past syncs of a data source: AWS's ingestion jobs merged with kbsync's own executions.

An AWS job becomes a row of seed 001's shape (id `aws-<jobId>`, source AWS). A local execution
that started or watched job <jobId> is the same sync: one row, the local one, with AWS's newer
status and statistics folded in and the local logs kept (DESIGN.md, "Merge rule").
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime

from kbsync_core.aws import AwsClients, aws_errors_explained
from kbsync_core.models import (
    AWS_SOURCE,
    AWS_TERMINAL_STATUSES,
    LOCAL_SOURCE,
    TRIGGER_AWS,
    Execution,
    ExecutionStatus,
    SyncTarget,
    map_aws_status,
)
from kbsync_core.sync import SyncEngine
from kbsync_core.timefmt import es_local_time, iso_utc, log_line, parse_iso, utc_now
from kbsync_core.validation import HistoryRequest

AWS_ID_PREFIX = "aws-"
AWS_HISTORY_TTL_SECONDS = 15.0
AWS_PAGE_SIZE = 100
# Every read fetches the most any request may ask for, so one cached answer per data source and
# credentials serves every maxResults (a single ListIngestionJobs call either way).
AWS_HISTORY_FETCH = 100
# A cached answer is ~0.25 MB (100 job summaries): the cache keeps the most recently used
# MAX_CACHED_HISTORIES, so however many key sets callers rotate through it stays under ~64 MB.
# An answer lives one TTL, so this many is more (data source, credentials) pairs read within
# 15 s than a console's operators make; AwsClients keeps as many clients, for the same reason.
MAX_CACHED_HISTORIES = 256
# Failure reasons are a few sentences per failed job, kept because they never change: the most
# recently asked MAX_REMEMBERED_FAILURE_REASONS jobs are enough for every history page open.
MAX_REMEMBERED_FAILURE_REASONS = 1024
# The most local executions one read looks through for maxResults rows that a caller keeps.
MAX_LOCAL_READ = 1000

LOG_RETRIEVED = "Historial recuperado desde AWS."

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
        "trigger": TRIGGER_AWS,  # a job kbsync did not start, or no longer knows
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


def _row_head(execution: Execution) -> dict:
    """What a `keep` filter reads of a local row (its source, status and job), without
    rendering the whole row."""
    return {"source": LOCAL_SOURCE, "status": str(execution.status), "jobId": execution.job_id}


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
        # Guards the three tables below; never held during a call to AWS.
        self._lock = threading.Lock()
        # (data source, credentials) -> (when read, by the clock; when read, UTC; the jobs),
        # least recently used first.
        self._cache: OrderedDict[tuple, tuple[float, datetime, list[dict]]] = OrderedDict()
        # One lock per cache key, so that many sessions asking at once make one AWS call. A
        # key's lock lives only while some thread holds or waits on it: [lock, threads].
        self._key_locks: dict[tuple, list] = {}
        self._failure_reasons: OrderedDict[tuple, list[str]] = OrderedDict()

    def aws_jobs(
        self, request: HistoryRequest, *, refresh: bool = False, max_age: float | None = None
    ) -> tuple[datetime, list[dict]]:
        """When AWS was read, and its newest job summaries (up to 100); read at most once per
        TTL per (data source, credentials), however many sessions ask. `max_age`: seconds
        after which a caller that watches running jobs wants a newer answer than the TTL's."""
        key = (request.target, request.credentials.cache_key)
        with self._holding(key):
            cached = None if refresh else self._fresh(key, max_age)
            if cached:
                return cached[1], cached[2]
            with aws_errors_explained(request.credentials):
                client = self.clients.bedrock_agent(request.credentials, request.target.region)
                jobs = fetch_aws_jobs(client, request.target, AWS_HISTORY_FETCH)
            self.engine.reconcile_interrupted(
                request.target, request.credentials, {job["ingestionJobId"]: job for job in jobs}
            )
            fetched_at = utc_now()
            self._keep(key, (self._clock(), fetched_at, jobs))
            return fetched_at, jobs

    @contextmanager
    def _holding(self, key: tuple):
        """Hold `key`'s lock. The lock is created by the first thread to want it and dropped by
        the last to let it go, so a lock is never removed while another thread waits on it."""
        with self._lock:
            entry = self._key_locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if not entry[1]:
                    del self._key_locks[key]

    def _fresh(
        self, key: tuple, max_age: float | None = None
    ) -> tuple[float, datetime, list[dict]] | None:
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                return None
            age = self._clock() - cached[0]
            if age >= self.ttl_seconds:
                del self._cache[key]
                return None
            if max_age is not None and age >= max_age:
                return None
            self._cache.move_to_end(key)
            return cached

    def _keep(self, key: tuple, answer: tuple[float, datetime, list[dict]]) -> None:
        """Cache an answer; drop every answer past its TTL, then the least recently used
        beyond MAX_CACHED_HISTORIES."""
        with self._lock:
            self._cache[key] = answer
            self._cache.move_to_end(key)
            now = self._clock()
            expired = [k for k, (read_at, _, _) in self._cache.items()
                       if now - read_at >= self.ttl_seconds]
            for expired_key in expired:
                del self._cache[expired_key]
            while len(self._cache) > MAX_CACHED_HISTORIES:
                self._cache.popitem(last=False)

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
                self._failure_reasons.move_to_end(key)
                return list(self._failure_reasons[key])
        with aws_errors_explained(request.credentials):
            client = self.clients.bedrock_agent(request.credentials, request.target.region)
            job = client.get_ingestion_job(
                knowledgeBaseId=request.target.knowledge_base_id,
                dataSourceId=request.target.data_source_id,
                ingestionJobId=row["jobId"],
            )["ingestionJob"]
        reasons = list(job.get("failureReasons") or [])
        with self._lock:
            self._failure_reasons[key] = reasons
            self._failure_reasons.move_to_end(key)
            while len(self._failure_reasons) > MAX_REMEMBERED_FAILURE_REASONS:
                self._failure_reasons.popitem(last=False)
        return list(reasons)

    def read(
        self,
        request: HistoryRequest,
        *,
        refresh: bool = False,
        keep: Callable[[dict], bool] | None = None,
        max_age: float | None = None,
    ) -> list[dict]:
        """Merged history rows of the request's data source, newest first, at most maxResults.

        `keep`: the rows a caller lists (the console leaves out attempts AWS refused); still
        up to maxResults of them. `max_age`: see aws_jobs."""
        retrieved_at, jobs = self.aws_jobs(request, refresh=refresh, max_age=max_age)
        jobs = jobs[: request.max_results]
        local = self._local(request, keep)
        rows = merge_history(local, aws_job_rows(jobs, retrieved_at))
        if keep is not None:
            rows = [row for row in rows if keep(row)]
        return rows[: request.max_results]

    def read_local(
        self, request: HistoryRequest, *, keep: Callable[[dict], bool] | None = None
    ) -> list[dict]:
        """kbsync's own rows of the data source alone, newest first, at most maxResults: what
        the console still shows when AWS refuses to list the jobs (denied keys, say)."""
        rows = merge_history(self._local(request, keep), [])
        if keep is not None:
            rows = [row for row in rows if keep(row)]
        return rows[: request.max_results]

    def aws_summary(self, request: HistoryRequest, job_id: str) -> dict | None:
        """AWS's summary of one of the data source's newest jobs (its own start and last update
        times), from the answer read within the TTL when there is one."""
        _, jobs = self.aws_jobs(request)
        return next((job for job in jobs if job["ingestionJobId"] == job_id), None)

    def _local(self, request: HistoryRequest, keep: Callable[[dict], bool] | None) -> list:
        """The newest local executions of the data source: maxResults of them that `keep`
        lists, read with a limited store query (reading more only when some are left out)."""
        store = self.engine.store
        wanted = request.max_results
        limit = wanted
        while True:
            local = store.list_for_target(request.target, limit=limit)
            if keep is None or len(local) < limit or limit >= MAX_LOCAL_READ:
                return local
            kept = [execution for execution in local if keep(_row_head(execution))]
            if len(kept) >= wanted:
                return kept
            limit = min(limit * 4, MAX_LOCAL_READ)
