"""Whether a sync runs on a data source now, and who started it.

The console asks this on every run of its Sync page, so the answer is cheap:

- kbsync's own store first: an unfinished execution of the target that some replica works
  (one whose run was interrupted may long have ended on AWS, so AWS decides for that one);
- then AWS's ListIngestionJobs (the newest jobs; STARTING, IN_PROGRESS or STOPPING), with the
  caller's credentials, cached ACTIVITY_TTL_SECONDS per data source and credentials, shared by
  every session: a page or fragment rerun does not call AWS each time. A job kbsync has an
  execution for is answered with that execution; one kbsync already saw end is not running.

An AWS error is no answer about AWS: it comes back as a short warning (code and message, no
secret), with whatever the store said.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from kbsync_core.aws import AwsClients, describe_aws_error
from kbsync_core.models import AWS_RUNNING_STATUSES, AwsCredentials, Execution, SyncTarget
from kbsync_core.store import ExecutionStore
from kbsync_core.timefmt import iso_utc, parse_iso

ACTIVITY_TTL_SECONDS = 5.0
ACTIVITY_LOOKUP_RESULTS = 10
MAX_CACHED = 256
AWS_TRIGGER = "aws"  # a job kbsync did not start: the AWS console, the CLI, an EventBridge rule


@dataclass(frozen=True)
class RunningSync:
    """The sync that runs on a data source now."""

    job_id: str | None  # None while kbsync's start has no answer from AWS yet
    started_at: str  # ISO 8601, UTC: AWS's startedAt for a job kbsync did not start
    trigger: str | None  # console, api, schedule, aws; None when kbsync did not record it
    execution: Execution | None = None  # kbsync's execution of it, if it has one
    aws_status: str | None = None

    @property
    def stopping(self) -> bool:
        return self.aws_status == "STOPPING"


@dataclass(frozen=True)
class Activity:
    running: RunningSync | None
    warning: str | None = None  # why AWS could not be asked (a refusal, a time-out)


def running_from_execution(execution: Execution) -> RunningSync:
    return RunningSync(
        job_id=execution.job_id,
        started_at=execution.started_at,
        trigger=getattr(execution, "trigger", None),
        execution=execution,
        aws_status=execution.aws_status,
    )


def _as_iso(value) -> str:
    if isinstance(value, str):
        return iso_utc(parse_iso(value))
    return iso_utc(value)


class DataSourceActivity:
    """Answers `running(target, credentials)`; thread-safe, one per process."""

    def __init__(
        self,
        store: ExecutionStore,
        clients: AwsClients,
        ttl_seconds: float = ACTIVITY_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._clients = clients
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: OrderedDict[tuple, tuple[float, list[dict] | None, str | None]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def running(self, target: SyncTarget, credentials: AwsCredentials | None) -> Activity:
        unfinished = [
            execution
            for execution in self._store.list_unfinished()
            if execution.target == target
        ]
        watched = [execution for execution in unfinished if not execution.interrupted]
        if watched:
            return Activity(running_from_execution(watched[-1]))  # the oldest one still runs
        if credentials is None:
            return Activity(None)
        jobs, warning = self._aws_running_jobs(target, credentials)
        for job in jobs:
            found = self._store.find_by_job_ids(target, [job["ingestionJobId"]])
            execution = found.get(job["ingestionJobId"])
            if execution is not None and execution.status.is_final:
                continue  # kbsync saw it end after AWS's (cached) answer
            return Activity(
                RunningSync(
                    job_id=job["ingestionJobId"],
                    started_at=_as_iso(job["startedAt"]),
                    trigger=(
                        getattr(execution, "trigger", None) if execution else AWS_TRIGGER
                    ),
                    execution=execution,
                    aws_status=job["status"],
                ),
                warning,
            )
        return Activity(None, warning)

    def forget(self, target: SyncTarget) -> None:
        """Ask AWS again next time (a sync was just started or stopped here)."""
        with self._lock:
            for key in [key for key in self._cache if key[0] == target]:
                del self._cache[key]

    def _aws_running_jobs(
        self, target: SyncTarget, credentials: AwsCredentials
    ) -> tuple[list[dict], str | None]:
        key = (target, credentials.cache_key)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1] or [], cached[2]
        try:
            summaries = self._clients.bedrock_agent(credentials, target.region).list_ingestion_jobs(
                knowledgeBaseId=target.knowledge_base_id,
                dataSourceId=target.data_source_id,
                sortBy={"attribute": "STARTED_AT", "order": "DESCENDING"},
                maxResults=ACTIVITY_LOOKUP_RESULTS,
            )["ingestionJobSummaries"]
            answer = ([s for s in summaries if s["status"] in AWS_RUNNING_STATUSES], None)
        except Exception as error:  # botocore's, or a connection that never came
            answer = ([], describe_aws_error(error, credentials))
        with self._lock:
            self._cache[key] = (now, *answer)
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return answer
