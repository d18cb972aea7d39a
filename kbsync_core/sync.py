"""Syncs: the Bedrock ingestion-job protocol, worked as runs (kbsync_core/runs.py).

Lifecycle (DESIGN.md, seed 000 corrected): the execution is created already leased by this
replica (PENDIENTE); its worker starts the job with a clientToken derived from the execution id,
retrying transient failures and lost answers with that same token, so AWS never starts a second
job (EN_EJECUCION); it polls GetIngestionJob while AWS says STARTING, IN_PROGRESS or STOPPING,
logging each change and carrying on through transient errors on every path that polls; it ends
COMPLETADO, FALLIDO or DETENIDO with the job's statistics and failure reasons kept.

An operator's keys live only in the memory of the worker that uses them, never in the store. A
run whose replica died is taken over by a replica that has credentials of its own; without any,
it is marked interrupted and settled from AWS history later. Workers never touch a UI.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial

from kbsync_core import events
from kbsync_core.aws import (
    AwsClients,
    aws_error_code,
    describe_aws_error,
    is_aws_error,
    is_transient,
)
from kbsync_core.config import Settings
from kbsync_core.errors import ExecutionFinishedError, ExecutionNotFoundError, NotMonitoredError
from kbsync_core.events import LogEvent, log_event
from kbsync_core.models import (
    AWS_RUNNING_STATUSES,
    DEFAULT_DESCRIPTION,
    TRIGGER_AWS,
    AwsCredentials,
    Execution,
    ExecutionStatus,
    SyncTarget,
    map_aws_status,
)
from kbsync_core.polling import PollPlan, PollRateLimiter, account_key, seconds_since
from kbsync_core.runs import RunClosedError, RunCoordinator, Worker
from kbsync_core.s3_source import expected_documents
from kbsync_core.store import SYNC_KIND, ExecutionStore, Lease, LeaseLostError, RunRecord
from kbsync_core.store.runs import ACTIVE, INTERRUPTED, now_ms
from kbsync_core.timefmt import iso_utc, utc_now
from kbsync_core.validation import SyncRequest

logger = logging.getLogger(__name__)

CLIENT_TOKEN_PREFIX = "kbsync-"  # noqa: S105 - an idempotency token, not a secret
CONFLICT_LOOKUP_RESULTS = 10
# Between two attempts at StartIngestionJob after transient failures: doubling from the poll
# interval up to this, for as long as it takes (the clientToken makes every retry safe).
START_RETRY_MAX_SECONDS = 60.0

CREDENTIALS_FROM_KEYS = "keys"
CREDENTIALS_FROM_DEFAULT_CHAIN = "default"
CREDENTIALS_FROM_PROFILE = "profile"
# A connection's: any replica resolves them (the server's own identity, by design).
CREDENTIALS_FROM_CONNECTION = "connection"


def running_job_id_of(client, target: SyncTarget) -> str | None:
    """The job AWS says runs on the data source (after a ConflictException named none); None
    when none does or AWS cannot be asked: the caller then says so without naming it."""
    try:
        summaries = client.list_ingestion_jobs(
            knowledgeBaseId=target.knowledge_base_id,
            dataSourceId=target.data_source_id,
            sortBy={"attribute": "STARTED_AT", "order": "DESCENDING"},
            maxResults=CONFLICT_LOOKUP_RESULTS,
        )["ingestionJobSummaries"]
    except Exception:
        logger.warning("Could not look up the running job after a conflict", exc_info=True)
        return None
    running = [s for s in summaries if s["status"] in AWS_RUNNING_STATUSES]
    return running[0]["ingestionJobId"] if running else None


def client_token_for(execution_id: str) -> str:
    """StartIngestionJob's idempotency token: the same execution never starts two jobs."""
    return CLIENT_TOKEN_PREFIX + execution_id


def credential_source(credentials: AwsCredentials) -> str:
    if credentials.is_explicit:
        return CREDENTIALS_FROM_KEYS
    return CREDENTIALS_FROM_PROFILE if credentials.profile_name else CREDENTIALS_FROM_DEFAULT_CHAIN


class SyncEngine:
    """Starts, watches, stops, resumes and takes over sync executions; one per process.

    `takeover_credentials` are the process's own (boto3's default chain), used to go on with
    runs whose replica died; None where the server lends no identity of its own. When
    `jobs_outlive_process` is False (the embedded sandbox, whose jobs die with its process), a
    run whose replica died ends FALLIDO instead. `expected_seconds(target)`: how long a sync
    of the target is expected to last (None: unknown); the polls cluster around that end
    (kbsync_core/polling.py), otherwise they come every KBSYNC_POLL_SECONDS.
    `expects_documents(target)`: False when nothing says how many documents a sync of the
    target will scan; the worker of a new job then counts them in the data source's bucket.
    """

    def __init__(
        self,
        settings: Settings,
        store: ExecutionStore,
        clients: AwsClients | None = None,
        coordinator: RunCoordinator | None = None,
        *,
        takeover_credentials: AwsCredentials | None = None,
        jobs_outlive_process: bool = True,
        connection_credentials: Callable[[str | None], AwsCredentials | None] | None = None,
        expected_seconds: Callable[[SyncTarget], float | None] | None = None,
        expects_documents: Callable[[SyncTarget], bool] | None = None,
    ):
        self.settings = settings
        self.store = store
        self.clients = clients or AwsClients(settings)
        self._owns_coordinator = coordinator is None
        self.coordinator = coordinator or RunCoordinator(
            store.runs, f"kbsync-{uuid.uuid4().hex[:12]}", settings.lease_seconds
        )
        self.takeover_credentials = takeover_credentials
        # A connection's credentials by its id (None once it is deleted): runs started from a
        # connection are taken over with them, whatever takeover_credentials says.
        self.connection_credentials = connection_credentials
        self.jobs_outlive_process = jobs_outlive_process
        self.expected_seconds = expected_seconds
        # Whether a sync of a target has a number of documents to measure its progress against
        # (a complete sync before it); a new job of one that has not counts its bucket's.
        self.expects_documents = expects_documents
        # GetIngestionJob's quota is the account's, shared by every replica that polls.
        self.poll_limiter = PollRateLimiter(settings.poll_quota)
        self._monitor_lock = threading.Lock()
        self.coordinator.register_kind(SYNC_KIND, self._take_over, self._can_take_over)
        self.coordinator.on_keeper_turn(self._count_polling_replicas)
        if self._owns_coordinator:
            self.coordinator.start()

    # -- starting ----------------------------------------------------------------------------

    def start_sync(
        self,
        request: SyncRequest,
        *,
        execution_id: str | None = None,
        job: dict | None = None,
        extra_events: tuple[LogEvent, ...] = (),
        schedule_id: str | None = None,
    ) -> Execution:
        """Create the execution and return it at once; a background worker does the rest.

        A schedule's firing (kbsync_core/scheduler.py) gives the `execution_id` its slot
        derives, so the clientToken does too, and the `job` it already started with that
        token: the worker then only watches it. sqlalchemy's IntegrityError when an execution
        has that id already (the slot's execution exists: nothing is created)."""
        execution = self._create(
            request.target, request.description, request.credentials,
            connection_id=request.connection_id, trigger=request.trigger,
            execution_id=execution_id, schedule_id=schedule_id,
            job_id=job["ingestionJobId"] if job else None,
            extra_events=[
                *extra_events,
                *([log_event(events.JOB_STARTED, job_id=job["ingestionJobId"])] if job else []),
            ],
        )
        self._launch(self.coordinator.lease_for(execution.id), request.credentials)
        return execution

    def monitor_job(
        self,
        target: SyncTarget,
        credentials: AwsCredentials,
        job_id: str,
        description: str = DEFAULT_DESCRIPTION,
        started_at: str | None = None,
    ) -> Execution:
        """An execution that watches a job someone else started (after a conflict, say).
        `started_at`: the job's own start (AWS's startedAt), when the caller knows it; the
        execution's elapsed time counts from it rather than from when watching began.

        A job kbsync already tracks on this data source keeps its execution, ended or not: one
        sync, one execution, one worker and one History row, however often an operator presses
        the button. An unfinished one nobody works is taken up with `credentials`.
        """
        with self._monitor_lock:  # two clicks at once in this process: one execution
            existing = self.store.find_by_job_ids(target, [job_id]).get(job_id)
            if existing is None:
                execution = self._create(
                    target, description, credentials, job_id=job_id,
                    extra_events=[log_event(events.ATTACHED, job_id=job_id)],
                    trigger=TRIGGER_AWS, started_at=started_at,
                )
                self._launch(self.coordinator.lease_for(execution.id), credentials)
                return self.store.get(execution.id)
        if not existing.status.is_final:
            self.resume(existing, credentials)  # nothing to do if someone works it already
        return self.store.get(existing.id)

    def _create(
        self,
        target: SyncTarget,
        description: str,
        credentials: AwsCredentials,
        job_id: str | None = None,
        extra_events: tuple[LogEvent, ...] | list[LogEvent] = (),
        connection_id: str | None = None,
        trigger: str | None = None,
        started_at: str | None = None,
        execution_id: str | None = None,
        schedule_id: str | None = None,
    ) -> Execution:
        now = utc_now()
        execution = Execution(
            id=execution_id or str(uuid.uuid4()),
            target=target,
            description=description,
            status=ExecutionStatus.PENDIENTE,
            started_at=started_at or iso_utc(now),
            job_id=job_id,
            events=[log_event(events.CREATED, now), *extra_events],
            trigger=trigger,
        )
        self.store.add(
            execution,
            lease=self.coordinator.lease_for(execution.id),
            credential_source=(
                CREDENTIALS_FROM_CONNECTION if connection_id else credential_source(credentials)
            ),
            profile_name=credentials.profile_name,
            connection_id=connection_id,
            schedule_id=schedule_id,
        )
        return execution

    def _launch(self, lease: Lease, credentials: AwsCredentials) -> bool:
        """Work a run this replica holds; False if this replica already works it."""
        try:
            worker = self.coordinator.launch(
                lease, credentials, self._guarded(self._work), "kbsync-sync"
            )
        except RunClosedError:
            self.store.runs.release(lease)  # shutting down: whoever comes next takes it
            raise
        return worker is not None

    # -- the worker --------------------------------------------------------------------------

    def _guarded(self, work):
        """The worker's body, with any unexpected end recorded as FALLIDO, saying why; but not
        when the process is leaving (shutdown) or the run is no longer ours."""

        def run(worker: Worker) -> None:
            try:
                work(worker)
            except LeaseLostError:
                raise
            except Exception as error:
                if self.coordinator.should_leave(worker):
                    logger.warning("Run %s left on shutdown: %s", worker.run_id, type(error))
                    return
                self._fail(worker, error)

        return run

    def _client(self, worker: Worker):
        return self.clients.bedrock_agent(worker.credentials, self._target_of(worker).region)

    def _target_of(self, worker: Worker) -> SyncTarget:
        if "target" not in worker.details:
            worker.details["target"] = self.store.get(worker.run_id).target
        return worker.details["target"]

    def _log(self, worker: Worker, event: LogEvent, **changes) -> None:
        self.store.record(worker.run_id, log=[event], lease=worker.lease, **changes)

    def _pause(self, worker: Worker, seconds: float) -> bool:
        """Wait up to `seconds` (a stop request cuts it short); True if the worker must leave."""
        worker.wake.wait(seconds)
        worker.wake.clear()
        return self.coordinator.should_leave(worker)

    def _start_and_watch(self, worker: Worker, execution: Execution) -> None:
        self._log(worker, log_event(events.STARTING))
        try:
            job = self._start_job(worker, execution)
        except Exception as error:
            if aws_error_code(error) == "ConflictException":
                self._fail_with_conflict(worker, error)
                return
            raise
        if job is None:
            return  # leaving; the next worker retries with the same clientToken
        self._log(
            worker,
            log_event(events.JOB_STARTED, job_id=job["ingestionJobId"]),
            job_id=job["ingestionJobId"],
            aws_status=job["status"],
            status=map_aws_status(job["status"]),
            statistics=job.get("statistics") or {},
        )
        self._count_documents(worker)
        self._watch(worker, job)

    def _count_documents(self, worker: Worker) -> None:
        """Log how many documents the data source's bucket holds, when no complete sync says
        how many this one will scan (its progress is measured against them). Its own identity
        may not list the bucket: then nothing is logged and progress waits for a complete
        sync."""
        target = self._target_of(worker)
        if self.expects_documents is None or self.expects_documents(target):
            return
        count = expected_documents(
            self._client(worker), self.clients.s3(worker.credentials, target.region), target
        )
        if count is not None:
            self._log(worker, log_event(events.EXPECTED_DOCUMENTS, count=str(count)))

    def _start_job(self, worker: Worker, execution: Execution) -> dict | None:
        """StartIngestionJob until AWS answers; transient failures (throttling, 5xx, a timeout
        or a dropped connection, where the job may well have been created) are retried with the
        same clientToken, which makes AWS answer with the job it already started."""
        target = execution.target
        wait = self.settings.poll_seconds
        while True:
            try:
                return self._client(worker).start_ingestion_job(
                    knowledgeBaseId=target.knowledge_base_id,
                    dataSourceId=target.data_source_id,
                    clientToken=client_token_for(worker.run_id),
                    description=execution.description,
                )["ingestionJob"]
            except Exception as error:
                self._log_transient(worker, events.START_RETRY, error)
            if self._pause(worker, wait):
                return None
            wait = min(wait * 2, START_RETRY_MAX_SECONDS)

    def _work(self, worker: Worker) -> None:
        """Start the execution's job if it has none yet, then watch the job to its end.

        A run taken over before AWS confirmed its job retries the start with the execution's
        clientToken: AWS answers with the job if it created it, or starts it if not.
        """
        execution = self.store.get(worker.run_id)
        worker.details["target"] = execution.target
        if not execution.job_id:
            self._start_and_watch(worker, execution)
            return
        job = self._poll_until_answered(worker, execution.job_id)
        if job is None:
            return
        if job["status"] in AWS_RUNNING_STATUSES:
            self._record_progress(worker, job)
        self._watch(worker, job)

    def _poll(self, worker: Worker, job_id: str) -> dict | None:
        """GetIngestionJob, within this replica's share of the account's quota; None after a
        transient error, which is logged, or when the wait for a slot was cut short."""
        target = self._target_of(worker)
        if not self.poll_limiter.wait(account_key(target.region, worker.credentials), worker.wake):
            return None  # woken (a stop, a shutdown): the caller's next pause sees why
        try:
            return self._client(worker).get_ingestion_job(
                knowledgeBaseId=target.knowledge_base_id,
                dataSourceId=target.data_source_id,
                ingestionJobId=job_id,
            )["ingestionJob"]
        except Exception as error:
            self._log_transient(worker, events.POLL_RETRY, error)
            return None

    def _log_transient(self, worker: Worker, event: str, error: Exception) -> None:
        """Log a transient AWS error (the caller tries again); re-raise any other."""
        if not is_transient(error):
            raise error
        self._log(worker, log_event(event, error=describe_aws_error(error, worker.credentials)))

    def _poll_until_answered(self, worker: Worker, job_id: str) -> dict | None:
        while True:
            job = self._poll(worker, job_id)
            if job is not None:
                return job
            if self._pause(worker, self.settings.poll_seconds):
                return None

    def _watch(self, worker: Worker, job: dict) -> None:
        """Poll until the job ends; honour a stop requested here or on another replica."""
        job_id = job["ingestionJobId"]
        last_seen = (job["status"], job.get("statistics"))
        stop_sent = False
        # The job ends between the last poll that saw it running and the one that sees it end.
        running_seen_at = utc_now()
        plan, elapsed = self._poll_plan(worker, job)
        self.coordinator.checkpoint(worker)  # a stop asked before this worker began counts
        while job["status"] in AWS_RUNNING_STATUSES:
            if worker.stop_requested.is_set() and not stop_sent:
                stop_sent = self._send_stop(worker, job_id)  # sent again after a failure
            # A stopping job ends within seconds: the fixed rhythm, whatever was expected.
            wait = self.settings.poll_seconds if stop_sent else plan.wait_after(elapsed())
            if self._pause(worker, wait):
                return  # left as it is: another worker takes it over
            self.coordinator.checkpoint(worker)
            if worker.stop_requested.is_set() and not stop_sent:
                continue  # send the stop at once rather than after one more poll
            polled = self._poll(worker, job_id)
            if polled is None:
                continue
            job = polled
            if job["status"] in AWS_RUNNING_STATUSES:
                running_seen_at = utc_now()
            seen = (job["status"], job.get("statistics"))
            if seen != last_seen and job["status"] in AWS_RUNNING_STATUSES:
                last_seen = seen
                self._record_progress(worker, job)
        self._finish(worker.lease, job, status_line=True, running_seen_at=running_seen_at)

    def _poll_plan(self, worker: Worker, job: dict) -> tuple[PollPlan, Callable[[], float]]:
        """The job's poll plan, and a clock of the seconds since the job started (AWS's
        startedAt, so a job taken over mid-way keeps its place in the plan)."""
        expected = None
        if self.expected_seconds is not None:
            try:
                expected = self.expected_seconds(self._target_of(worker))
            except Exception:
                # Only the rhythm of the polls depends on it: the fixed poll will do.
                logger.warning("No expected duration for run %s", worker.run_id, exc_info=True)
        already = seconds_since(job.get("startedAt"), utc_now())
        since = time.monotonic()
        return PollPlan(self.settings.poll_seconds, expected), lambda: already + (
            time.monotonic() - since
        )

    def _count_polling_replicas(self) -> None:
        """The lease keeper's turn: each replica that works syncs takes an equal share of the
        account's GetIngestionJob quota (this one counted even before its first lease shows)."""
        owners = self.store.runs.live_owners(SYNC_KIND)
        self.poll_limiter.set_replicas(len(owners | {self.coordinator.owner_id}))

    def _record_progress(self, worker: Worker, job: dict) -> None:
        self._log(
            worker,
            log_event(events.STATUS, status=job["status"]),
            aws_status=job["status"],
            status=map_aws_status(job["status"]),
            statistics=job.get("statistics") or {},
        )

    def _send_stop(self, worker: Worker, job_id: str) -> bool:
        """StopIngestionJob; False when it should be sent again (a transient failure)."""
        self._log(worker, log_event(events.STOP_REQUESTED, job_id=job_id))
        target = self._target_of(worker)
        try:
            self._client(worker).stop_ingestion_job(
                knowledgeBaseId=target.knowledge_base_id,
                dataSourceId=target.data_source_id,
                ingestionJobId=job_id,
            )
        except Exception as error:
            # ConflictException here means the job ended meanwhile: the next poll shows how.
            conflict = aws_error_code(error) == "ConflictException"
            if not (conflict or is_transient(error)):
                raise
            self._log(worker, self._aws_error(worker, error))
            return conflict
        return True

    def _finish(
        self,
        lease: Lease,
        job: dict,
        *,
        status_line: bool = False,
        running_seen_at: datetime | None = None,
    ) -> None:
        """Record a job's final state, all in one write: a reader never sees a final status
        without its finishedAt, statistics and closing log lines."""
        status = map_aws_status(job["status"])
        reasons = list(job.get("failureReasons") or [])
        now = utc_now()
        ending = [log_event(events.STATUS, now, status=job["status"])] if status_line else []
        ending += [log_event(events.FAILURE_REASON, now, reason=reason) for reason in reasons]
        bracket = {events.RUNNING_SEEN_AT: iso_utc(running_seen_at)} if running_seen_at else {}
        ending.append(
            log_event(
                {
                    ExecutionStatus.COMPLETADO: events.COMPLETED,
                    ExecutionStatus.DETENIDO: events.STOPPED,
                }.get(status, events.FAILED),
                now,
                **bracket,
            )
        )
        self.store.record(
            lease.run_id,
            log=ending,
            lease=lease,
            status=status if status.is_final else ExecutionStatus.FALLIDO,
            aws_status=job["status"],
            statistics=job.get("statistics") or {},
            failure_reasons=reasons,
            finished_at=iso_utc(now),
        )

    def _fail_with_conflict(self, worker: Worker, error: BaseException) -> None:
        running_job_id = running_job_id_of(self._client(worker), self._target_of(worker))
        ending = [self._aws_error(worker, error)]
        if running_job_id:
            ending.append(log_event(events.CONFLICT, job_id=running_job_id))
        self._end_failed(worker.lease, ending, conflict_job_id=running_job_id)

    @staticmethod
    def _aws_error(worker: Worker, error: BaseException) -> LogEvent:
        """AWS's own words about an error, the worker's keys taken out."""
        return log_event(
            events.AWS_ERROR,
            error=describe_aws_error(error, worker.credentials),
            code=aws_error_code(error),
        )

    def _end_failed(self, lease: Lease, ending: list[LogEvent], **changes) -> None:
        """End an execution FALLIDO with these log events, in one write."""
        now = utc_now()
        self.store.record(
            lease.run_id,
            log=ending,
            lease=lease,
            status=ExecutionStatus.FALLIDO,
            finished_at=iso_utc(now),
            **changes,
        )

    def _fail(self, worker: Worker, error: BaseException) -> None:
        if is_aws_error(error):
            event = self._aws_error(worker, error)
        else:
            logger.exception("Execution %s failed inside kbsync", worker.run_id)
            event = log_event(
                events.INTERNAL_ERROR,
                error=worker.credentials.redact(f"{type(error).__name__}: {error}"),
            )
        self._end_failed(worker.lease, [event])

    # -- stopping ----------------------------------------------------------------------------

    def stop_sync(self, execution_id: str, credentials: AwsCredentials | None = None) -> Execution:
        """Ask for the execution's job to stop; durable once this returns.

        The request is written to the store first; whichever replica works the run sends
        StopIngestionJob and watches the job to DETENIDO. A run nobody works (its replica died,
        or it was interrupted) is taken up here with `credentials`, or with the process's own.
        """
        execution = self.store.get(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(execution_id)
        if execution.status.is_final:
            raise ExecutionFinishedError(
                f"The execution already ended with status {execution.status}."
            )
        run = self.store.runs.get(execution_id)
        held = self.coordinator.worker(execution_id) is not None or run.is_held_at(now_ms())
        if not held:
            credentials = credentials or self._takeover_credentials(run)
            if credentials is None:
                raise NotMonitoredError(
                    "No kbsync process is watching this execution and none has credentials "
                    "for it; read its data source's history with valid credentials first."
                )
        if not self.coordinator.request_stop(execution_id, iso_utc(utc_now())):
            raise ExecutionFinishedError("The execution already ended.")
        if not held:
            self.resume(execution, credentials)
        return self.store.get(execution_id)

    # -- runs nobody works -------------------------------------------------------------------

    def resume(self, execution: Execution, credentials: AwsCredentials) -> bool:
        """Work an unfinished execution again with `credentials`, if nobody works it now.

        One with no job yet retries its start with its clientToken: if AWS did create the job
        before its replica died, StartIngestionJob answers with that job instead of another.
        """

        def begin(lease: Lease) -> None:
            self.store.record(execution.id, log=[log_event(events.RESUMED)], lease=lease)
            self._launch(lease, credentials)

        return self.coordinator.adopt(execution.id, (ACTIVE, INTERRUPTED), begin)

    def is_stopping(self, execution: Execution) -> bool:
        """An unfinished execution someone asked to stop (the request is stored, so every
        replica and session sees it at once), or whose job AWS already says is STOPPING."""
        if execution.status.is_final:
            return False
        if execution.aws_status == "STOPPING":
            return True
        run = self.store.runs.get(execution.id)
        return bool(run and run.stop_requested)

    def acts_as_server(self, execution_id: str) -> bool:
        """Whether the run works with the server's identity (a connection, a profile, the
        default chain) rather than keys an operator gave: acting on it without keys of one's
        own then acts as the server."""
        run = self.store.runs.get(execution_id)
        return run is not None and run.credential_source != CREDENTIALS_FROM_KEYS

    def _takeover_credentials(self, run: RunRecord) -> AwsCredentials | None:
        if run.credential_source == CREDENTIALS_FROM_CONNECTION:
            if self.connection_credentials is None:
                return None
            return self.connection_credentials(run.connection_id)
        if self.takeover_credentials is None:
            return None
        if run.credential_source == CREDENTIALS_FROM_PROFILE:
            return AwsCredentials(profile_name=run.profile_name)
        return self.takeover_credentials

    def _can_take_over(self, run: RunRecord) -> bool:
        """Any run whose replica died: this replica resumes it, ends it (the embedded sandbox)
        or interrupts it. An interrupted one only with credentials to resume it."""
        if run.state != INTERRUPTED:
            return True
        return self.jobs_outlive_process and self._takeover_credentials(run) is not None

    def _take_over(self, run: RunRecord, lease: Lease) -> None:
        """A run nobody worked (its replica died, or nobody had credentials for it) that this
        replica just claimed."""
        if not self.jobs_outlive_process:
            self._end_failed(lease, [log_event(events.SANDBOX_RESTARTED)])
            return
        credentials = self._takeover_credentials(run)
        if credentials is None:
            self.store.record(run.id, log=[log_event(events.INTERRUPTED)], lease=lease)
            self.store.runs.interrupt(lease)
            return
        event = events.RESUMED if run.state == INTERRUPTED else events.TAKEN_OVER
        self.store.record(run.id, log=[log_event(event)], lease=lease)
        self._launch(lease, credentials)

    def reconcile_interrupted(
        self, target: SyncTarget, credentials: AwsCredentials, aws_jobs: dict[str, dict]
    ) -> None:
        """Settle interrupted executions of `target` with AWS history just read.

        A job AWS reports as ended is recorded as ended; one still running, or not in the
        listing, is watched again with these credentials; one with no job yet retries its
        start with its clientToken.
        """
        for execution in self.store.list_interrupted(target):
            job = aws_jobs.get(execution.job_id or "")
            # Settled or taken up by someone else meanwhile: adopt() says no and does nothing.
            self.coordinator.adopt(
                execution.id, (INTERRUPTED,), partial(self._settle, credentials, job)
            )

    def _settle(self, credentials: AwsCredentials, job: dict | None, lease: Lease) -> None:
        if job is None or job["status"] in AWS_RUNNING_STATUSES:
            self.store.record(lease.run_id, log=[log_event(events.RESUMED)], lease=lease)
            self._launch(lease, credentials)
            return
        self.store.record(
            lease.run_id, log=[log_event(events.RECONCILED, status=job["status"])], lease=lease
        )
        self._finish(lease, job)

    # -- reading -----------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution | None:
        return self.store.get(execution_id)

    def is_monitored(self, execution_id: str) -> bool:
        """Whether this replica works the execution now."""
        return self.coordinator.worker(execution_id) is not None

    def running_count(self) -> int:
        return self.coordinator.running_count()

    def wait(self, execution_id: str, timeout: float) -> Execution | None:
        """Block until this replica's worker of the execution ends (or `timeout`)."""
        worker = self.coordinator.worker(execution_id)
        if worker is not None and worker.thread is not None:
            worker.thread.join(timeout)
        return self.store.get(execution_id)

    # -- shutting down -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the workers this engine's coordinator runs (their executions stay as they
        are, for the next process or another replica); idempotent."""
        if self._owns_coordinator:
            self.coordinator.close()
