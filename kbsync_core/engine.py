"""The sync engine: starts ingestion jobs and watches each one to its end in a background thread.

Lifecycle (DESIGN.md, seed 000 corrected): create the record (PENDIENTE); the worker starts the
job with a clientToken derived from the execution id, so a retry after a crash cannot start a
second job (EN_EJECUCION); it polls GetIngestionJob while AWS says STARTING, IN_PROGRESS or
STOPPING, logging each change; it ends COMPLETADO, FALLIDO or DETENIDO with the job's
statistics and failure reasons kept.

Credentials live only in the memory of the monitor that needs them, never in the store.
Monitors never touch a UI: pages read their results from the store.
"""

import logging
import threading
import uuid
from dataclasses import dataclass, field

from kbsync_core.aws import (
    AwsClients,
    aws_error_code,
    describe_aws_error,
    is_aws_error,
    is_transient,
)
from kbsync_core.config import Settings
from kbsync_core.models import (
    AWS_RUNNING_STATUSES,
    DEFAULT_DESCRIPTION,
    AwsCredentials,
    Execution,
    ExecutionStatus,
    SyncTarget,
    map_aws_status,
)
from kbsync_core.store import ExecutionStore
from kbsync_core.timefmt import iso_utc, log_line, utc_now
from kbsync_core.validation import SyncRequest

logger = logging.getLogger(__name__)

CLIENT_TOKEN_PREFIX = "kbsync-"  # noqa: S105 - an idempotency token, not a secret
SHUTDOWN_JOIN_SECONDS = 10.0
CONFLICT_LOOKUP_RESULTS = 10

# The seed's log wording (000), and kbsync's additions in the same language and tone.
LOG_CREATED = "Ejecución creada."
LOG_STARTING = "Iniciando tarea de sincronización en Bedrock Knowledge Base..."
LOG_JOB_STARTED = "Ingestion Job iniciado: {job_id}"
LOG_STATUS = "Estado actual: {status}"
LOG_COMPLETED = "Sincronización completada correctamente."
LOG_FAILED = "La sincronización terminó con errores."
LOG_FAILURE_REASON = "Motivo del fallo: {reason}"
LOG_STOPPED = "Sincronización detenida."
LOG_STOP_REQUESTED = "Deteniendo Ingestion Job: {job_id}"
LOG_AWS_ERROR = "Error de AWS: {error}"
LOG_INTERNAL_ERROR = "Error interno de kbsync: {error}"
LOG_TRANSIENT = "Error transitorio al consultar el estado ({error}); se reintentará."
LOG_CONFLICT = (
    "Ya hay un Ingestion Job en curso en este data source: {job_id}. "
    "Puede monitorizarlo en lugar de iniciar otro."
)
LOG_ATTACHED = "Monitorizando Ingestion Job existente: {job_id}"
LOG_RESUMED = "Reanudando la monitorización tras un reinicio del proceso."
LOG_INTERRUPTED = (
    "El proceso se reinició mientras la ejecución estaba en curso y no tiene credenciales para "
    "seguirla; tomará su estado final de AWS cuando se consulte el historial del data source."
)
LOG_RECONCILED = "Estado final recuperado desde AWS: {status}"
LOG_SANDBOX_RESTARTED = (
    "El proceso se reinició y el sandbox integrado no conserva sus jobs: "
    "esta sincronización simulada se perdió."
)
LOG_LOST_BEFORE_JOB = (
    "La ejecución se interrumpió antes de que AWS confirmara el Ingestion Job; "
    "no hay job que seguir."
)


class ExecutionNotFoundError(LookupError):
    """No execution has that id."""


class ExecutionFinishedError(RuntimeError):
    """The execution already ended; there is nothing to stop."""


class NotMonitoredError(RuntimeError):
    """Nobody in this process holds credentials for that execution."""


def client_token_for(execution_id: str) -> str:
    """StartIngestionJob's idempotency token: the same execution never starts two jobs."""
    return CLIENT_TOKEN_PREFIX + execution_id


@dataclass
class _Monitor:
    """A running execution's thread and the credentials only it holds."""

    execution_id: str
    target: SyncTarget
    credentials: AwsCredentials = field(repr=False)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    # Set to cut a poll interval short: on a stop request, or when the process shuts down.
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class SyncEngine:
    """Starts, watches, stops and resumes executions; one instance per process."""

    def __init__(
        self, settings: Settings, store: ExecutionStore, clients: AwsClients | None = None
    ):
        self.settings = settings
        self.store = store
        self.clients = clients or AwsClients(settings)
        self._monitors: dict[str, _Monitor] = {}
        self._lock = threading.Lock()
        self._shutting_down = threading.Event()

    # -- starting ----------------------------------------------------------------------------

    def start_sync(self, request: SyncRequest) -> Execution:
        """Create the execution and return it at once; a background thread does the rest."""
        execution = self._create(request.target, request.description)
        monitor = self._register(execution.id, request.target, request.credentials)
        self._start(monitor, self._start_and_watch)
        return execution

    def monitor_job(
        self,
        target: SyncTarget,
        credentials: AwsCredentials,
        job_id: str,
        description: str = DEFAULT_DESCRIPTION,
    ) -> Execution:
        """An execution that watches a job someone else started (after a conflict, say).

        A job already watched by an unfinished local execution keeps that one: one sync, one
        execution, one monitor, however often an operator presses the button.
        """
        existing = self.store.find_by_job_ids(target, [job_id]).get(job_id)
        if existing is not None and not existing.status.is_final:
            self.resume(existing, credentials)  # does nothing if it is already watched
            return self.store.get(existing.id)
        execution = self._create(target, description, job_id=job_id)
        monitor = self._register(execution.id, target, credentials)
        self.store.record(execution.id, log=[log_line(LOG_ATTACHED.format(job_id=job_id))])
        self._start(monitor, self._watch_existing)
        return self.store.get(execution.id)

    def _create(self, target: SyncTarget, description: str, job_id: str | None = None):
        now = utc_now()
        execution = Execution(
            id=str(uuid.uuid4()),
            target=target,
            description=description,
            status=ExecutionStatus.PENDIENTE,
            started_at=iso_utc(now),
            job_id=job_id,
            logs=[log_line(LOG_CREATED, now)],
        )
        self.store.add(execution)
        return execution

    def _register(self, execution_id, target, credentials) -> _Monitor | None:
        """Claim an execution for a new monitor; None if one already watches it.

        Checking and claiming under one lock is what keeps two callers (two history reads
        reconciling at once, say) from starting two monitors for one execution.
        """
        if self._shutting_down.is_set():
            raise RuntimeError("The sync engine is shutting down.")
        with self._lock:
            if execution_id in self._monitors:
                return None
            monitor = _Monitor(execution_id, target, credentials)
            self._monitors[execution_id] = monitor
            return monitor

    def _start(self, monitor: _Monitor, work) -> None:
        monitor.thread = threading.Thread(
            target=self._run, args=(monitor, work),
            name=f"kbsync-monitor-{monitor.execution_id[:8]}", daemon=True,
        )
        monitor.thread.start()

    # -- the worker --------------------------------------------------------------------------

    def _run(self, monitor: _Monitor, work) -> None:
        try:
            work(monitor)
        except Exception as error:
            self._fail(monitor, error)
        finally:
            with self._lock:
                self._monitors.pop(monitor.execution_id, None)

    def _client(self, monitor: _Monitor):
        return self.clients.bedrock_agent(monitor.credentials, monitor.target.region)

    def _log(self, execution_id: str, text: str, **changes) -> None:
        self.store.record(execution_id, log=[log_line(text)], **changes)

    def _start_and_watch(self, monitor: _Monitor) -> None:
        execution = self.store.get(monitor.execution_id)
        self._log(monitor.execution_id, LOG_STARTING)
        target = monitor.target
        try:
            response = self._client(monitor).start_ingestion_job(
                knowledgeBaseId=target.knowledge_base_id,
                dataSourceId=target.data_source_id,
                clientToken=client_token_for(monitor.execution_id),
                description=execution.description,
            )
        except Exception as error:
            if aws_error_code(error) == "ConflictException":
                self._fail_with_conflict(monitor, error)
                return
            raise
        job = response["ingestionJob"]
        self._log(
            monitor.execution_id,
            LOG_JOB_STARTED.format(job_id=job["ingestionJobId"]),
            job_id=job["ingestionJobId"],
            aws_status=job["status"],
            status=map_aws_status(job["status"]),
            statistics=job.get("statistics") or {},
        )
        self._watch(monitor, job)

    def _watch_existing(self, monitor: _Monitor) -> None:
        execution = self.store.get(monitor.execution_id)
        job = self._get_job(monitor, execution.job_id)
        if job["status"] in AWS_RUNNING_STATUSES:
            self._record_progress(monitor.execution_id, job)
        self._watch(monitor, job)

    def _get_job(self, monitor: _Monitor, job_id: str) -> dict:
        return self._client(monitor).get_ingestion_job(
            knowledgeBaseId=monitor.target.knowledge_base_id,
            dataSourceId=monitor.target.data_source_id,
            ingestionJobId=job_id,
        )["ingestionJob"]

    def _watch(self, monitor: _Monitor, job: dict) -> None:
        """Poll until the job ends; a transient error is logged and polling goes on."""
        job_id = job["ingestionJobId"]
        last_seen = (job["status"], job.get("statistics"))
        stop_sent = False
        while job["status"] in AWS_RUNNING_STATUSES:
            if monitor.stop_requested.is_set() and not stop_sent:
                self._send_stop(monitor, job_id)
                stop_sent = True
            monitor.wake.wait(self.settings.poll_seconds)
            monitor.wake.clear()
            if self._shutting_down.is_set():
                return  # left as it is: the next process resumes or reconciles it
            if monitor.stop_requested.is_set() and not stop_sent:
                continue  # send the stop at once rather than after one more poll
            try:
                job = self._get_job(monitor, job_id)
            except Exception as error:
                if not is_transient(error):
                    raise
                self._log(
                    monitor.execution_id,
                    LOG_TRANSIENT.format(error=describe_aws_error(error, monitor.credentials)),
                )
                continue
            seen = (job["status"], job.get("statistics"))
            if seen != last_seen and job["status"] in AWS_RUNNING_STATUSES:
                last_seen = seen
                self._record_progress(monitor.execution_id, job)
        self._finish(monitor.execution_id, job, status_line=True)

    def _record_progress(self, execution_id: str, job: dict) -> None:
        self._log(
            execution_id,
            LOG_STATUS.format(status=job["status"]),
            aws_status=job["status"],
            status=map_aws_status(job["status"]),
            statistics=job.get("statistics") or {},
        )

    def _send_stop(self, monitor: _Monitor, job_id: str) -> None:
        self._log(monitor.execution_id, LOG_STOP_REQUESTED.format(job_id=job_id))
        try:
            self._client(monitor).stop_ingestion_job(
                knowledgeBaseId=monitor.target.knowledge_base_id,
                dataSourceId=monitor.target.data_source_id,
                ingestionJobId=job_id,
            )
        except Exception as error:
            # ConflictException here means the job ended meanwhile: the next poll shows how.
            if not (aws_error_code(error) == "ConflictException" or is_transient(error)):
                raise
            self._log(
                monitor.execution_id,
                LOG_AWS_ERROR.format(error=describe_aws_error(error, monitor.credentials)),
            )

    def _finish(self, execution_id: str, job: dict, *, status_line: bool = False) -> None:
        """Record a job's final state, all in one write: a reader never sees a final status
        without its finishedAt, statistics and closing log lines."""
        status = map_aws_status(job["status"])
        reasons = list(job.get("failureReasons") or [])
        lines = [LOG_STATUS.format(status=job["status"])] if status_line else []
        lines += [LOG_FAILURE_REASON.format(reason=reason) for reason in reasons]
        lines.append(
            {
                ExecutionStatus.COMPLETADO: LOG_COMPLETED,
                ExecutionStatus.DETENIDO: LOG_STOPPED,
            }.get(status, LOG_FAILED)
        )
        now = utc_now()
        self.store.record(
            execution_id,
            log=[log_line(line, now) for line in lines],
            status=status if status.is_final else ExecutionStatus.FALLIDO,
            aws_status=job["status"],
            statistics=job.get("statistics") or {},
            failure_reasons=reasons,
            finished_at=iso_utc(now),
            interrupted=False,
        )

    def _fail_with_conflict(self, monitor: _Monitor, error: BaseException) -> None:
        running_job_id = self._find_running_job(monitor)
        lines = [LOG_AWS_ERROR.format(error=describe_aws_error(error, monitor.credentials))]
        if running_job_id:
            lines.append(LOG_CONFLICT.format(job_id=running_job_id))
        self._end_failed(monitor.execution_id, lines, conflict_job_id=running_job_id)

    def _end_failed(self, execution_id: str, lines: list[str], **changes) -> None:
        """End an execution FALLIDO with these log lines, in one write."""
        now = utc_now()
        self.store.record(
            execution_id,
            log=[log_line(line, now) for line in lines],
            status=ExecutionStatus.FALLIDO,
            finished_at=iso_utc(now),
            interrupted=False,
            **changes,
        )

    def _find_running_job(self, monitor: _Monitor) -> str | None:
        try:
            summaries = self._client(monitor).list_ingestion_jobs(
                knowledgeBaseId=monitor.target.knowledge_base_id,
                dataSourceId=monitor.target.data_source_id,
                sortBy={"attribute": "STARTED_AT", "order": "DESCENDING"},
                maxResults=CONFLICT_LOOKUP_RESULTS,
            )["ingestionJobSummaries"]
        except Exception:
            logger.warning("Could not look up the running job after a conflict", exc_info=True)
            return None
        running = [s for s in summaries if s["status"] in AWS_RUNNING_STATUSES]
        return running[0]["ingestionJobId"] if running else None

    def _fail(self, monitor: _Monitor, error: BaseException) -> None:
        if is_aws_error(error):
            text = LOG_AWS_ERROR.format(error=describe_aws_error(error, monitor.credentials))
        else:
            logger.exception("Execution %s failed inside kbsync", monitor.execution_id)
            text = LOG_INTERNAL_ERROR.format(
                error=monitor.credentials.redact(f"{type(error).__name__}: {error}")
            )
        self._end_failed(monitor.execution_id, [text])

    # -- stopping ----------------------------------------------------------------------------

    def stop_sync(self, execution_id: str, credentials: AwsCredentials | None = None) -> Execution:
        """Ask AWS to stop the execution's job; its monitor then sees STOPPING, STOPPED.

        An execution this process monitors is stopped with the credentials that started it; an
        interrupted one needs `credentials`, and is then watched to its end with them.
        """
        execution = self.store.get(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(execution_id)
        if execution.status.is_final:
            raise ExecutionFinishedError(
                f"The execution already ended with status {execution.status}."
            )
        with self._lock:
            monitor = self._monitors.get(execution_id)
        if monitor is None:
            if credentials is None or not execution.job_id:
                raise NotMonitoredError(
                    "This execution is not being watched by this process; "
                    "read its data source's history with valid credentials first."
                )
            self.resume(execution, credentials)
            with self._lock:
                monitor = self._monitors.get(execution_id)
        if monitor is not None:
            monitor.stop_requested.set()
            monitor.wake.set()
        return self.store.get(execution_id)

    # -- restarts ----------------------------------------------------------------------------

    def resume(self, execution: Execution, credentials: AwsCredentials) -> None:
        """Watch an unfinished execution again; one with no job yet retries its start.

        The retry reuses the execution's clientToken, so if AWS did create the job before the
        process died, StartIngestionJob answers with that job instead of starting another.
        """
        monitor = self._register(execution.id, execution.target, credentials)
        if monitor is None:
            return
        self.store.record(execution.id, log=[log_line(LOG_RESUMED)], interrupted=False)
        self._start(monitor, self._watch_existing if execution.job_id else self._start_and_watch)

    def recover_after_restart(self, credentials: AwsCredentials | None) -> list[str]:
        """At start-up: resume what was left running, with `credentials` if the process has any;
        otherwise mark it interrupted. Returns the ids found unfinished."""
        found = []
        for execution in self.store.list_unfinished():
            with self._lock:
                if execution.id in self._monitors:
                    continue
            found.append(execution.id)
            if credentials is not None:
                self.resume(execution, credentials)
            elif not execution.interrupted:
                self.store.record(
                    execution.id, log=[log_line(LOG_INTERRUPTED)], interrupted=True
                )
        return found

    def abandon_unfinished(self, reason: str) -> list[str]:
        """At start-up, when nothing can follow what a previous process left running (the
        embedded sandbox's jobs die with it): end those executions FALLIDO, saying why."""
        abandoned = []
        for execution in self.store.list_unfinished():
            abandoned.append(execution.id)
            self._end_failed(execution.id, [reason])
        return abandoned

    def reconcile_interrupted(
        self, target: SyncTarget, credentials: AwsCredentials, aws_jobs: dict[str, dict]
    ) -> None:
        """Give interrupted executions of `target` their state from AWS history just read.

        A job AWS reports as ended is recorded as ended; one still running is watched again
        with these credentials; one AWS never confirmed ends FALLIDO, saying so.
        """
        for execution in self.store.list_interrupted(target):
            with self._lock:
                if execution.id in self._monitors:
                    continue
            if not execution.job_id:
                self._end_failed(execution.id, [LOG_LOST_BEFORE_JOB])
                continue
            job = aws_jobs.get(execution.job_id)
            if job is None or job["status"] in AWS_RUNNING_STATUSES:
                self.resume(execution, credentials)
                continue
            self.store.record(
                execution.id, log=[log_line(LOG_RECONCILED.format(status=job["status"]))]
            )
            self._finish(execution.id, job)

    # -- reading -----------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution | None:
        return self.store.get(execution_id)

    def is_monitored(self, execution_id: str) -> bool:
        with self._lock:
            return execution_id in self._monitors

    def running_count(self) -> int:
        with self._lock:
            return len(self._monitors)

    def wait(self, execution_id: str, timeout: float) -> Execution | None:
        """Block until the execution's monitor ends (or `timeout`); for scripts and tests."""
        with self._lock:
            monitor = self._monitors.get(execution_id)
        if monitor is not None and monitor.thread is not None:
            monitor.thread.join(timeout)
        return self.store.get(execution_id)

    # -- shutting down -----------------------------------------------------------------------

    def close(self, timeout: float = SHUTDOWN_JOIN_SECONDS) -> None:
        """Stop every monitor (leaving its execution as it is, to resume later); idempotent."""
        self._shutting_down.set()
        with self._lock:
            monitors = list(self._monitors.values())
        for monitor in monitors:
            monitor.wake.set()
        threads = [monitor.thread for monitor in monitors if monitor.thread is not None]
        for thread in threads:
            thread.join(timeout)
