"""Whether a sync runs on a data source now, and who started it.

The console asks this on every run of its Sync page and every few seconds after, so the answer
is cheap:

- kbsync's own store first: an unfinished execution of the target that some replica works
  (one whose run was interrupted may long have ended on AWS, so AWS decides for that one);
- then AWS's newest jobs (STARTING, IN_PROGRESS or STOPPING), through the history service's
  shared read (kbsync_core/history.py): one ListIngestionJobs per data source and credentials
  however many sessions ask, at most ACTIVITY_MAX_AGE_SECONDS old, and the same answer the
  History page uses. A job kbsync has an execution for is answered with that execution; one
  kbsync already saw end is not running.

An AWS error is no answer about AWS: it comes back as a short warning (AWS's code and message,
no secret), with whatever the store said.
"""

from dataclasses import dataclass

from kbsync_core.errors import AwsRequestError
from kbsync_core.history import HistoryService
from kbsync_core.models import (
    AWS_RUNNING_STATUSES,
    TRIGGER_AWS,
    AwsCredentials,
    Execution,
    SyncTarget,
)
from kbsync_core.store import ExecutionStore
from kbsync_core.timefmt import iso_utc
from kbsync_core.validation import HistoryRequest

ACTIVITY_MAX_AGE_SECONDS = 5.0


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
        trigger=execution.trigger,
        execution=execution,
        aws_status=execution.aws_status,
    )


class DataSourceActivity:
    """Answers `running(target, credentials)`; thread-safe, one per process."""

    def __init__(self, store: ExecutionStore, history: HistoryService):
        self._store = store
        self._history = history

    def running(self, target: SyncTarget, credentials: AwsCredentials | None) -> Activity:
        unfinished = self._store.list_unfinished(target)
        watched = [execution for execution in unfinished if not execution.interrupted]
        if watched:
            return Activity(running_from_execution(watched[-1]))  # the oldest one still runs
        if credentials is None:
            return Activity(None)
        try:
            _, jobs = self._history.aws_jobs(
                HistoryRequest(target, credentials), max_age=ACTIVITY_MAX_AGE_SECONDS
            )
        except AwsRequestError as error:
            return Activity(None, str(error))
        running = [job for job in jobs if job["status"] in AWS_RUNNING_STATUSES]
        known = self._store.find_by_job_ids(target, [job["ingestionJobId"] for job in running])
        for job in running:
            execution = known.get(job["ingestionJobId"])
            if execution is not None and execution.status.is_final:
                continue  # kbsync saw it end after AWS's (cached) answer
            return Activity(
                RunningSync(
                    job_id=job["ingestionJobId"],
                    started_at=iso_utc(job["startedAt"]),
                    trigger=execution.trigger if execution else TRIGGER_AWS,
                    execution=execution,
                    aws_status=job["status"],
                )
            )
        return Activity(None)
