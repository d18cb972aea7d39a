"""Ingestion jobs (seed 002): records in, documents of a knowledge base out, worked as runs.

    jobs = kbsync.ingestion
    job = jobs.create("sandbox-custom", "generic-json", {"records": [...]})   # pending
    jobs.get(job.id)          # seed 002's body: progress, results, result
    jobs.list(status="completed", limit=20)
    jobs.cancel(job.id)

create() validates (the adapter's problems, ids colliding in the job), resolves the target and
its data source's type (GetDataSource: CUSTOM or S3), stages every record in the store in one
transaction with the job's run (leased by this replica), and launches its worker. The worker
compares each record's hash with the stored one (unchanged: skipped; deleted: removed; `force`
re-sends all), then hands the rest to the delivery of the data source's type (custom.py,
s3.py). Every step is written with the lease check, so a restart or a takeover by another
replica resumes where the job was, and a record done is never sent again.
"""

import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kbsync_core.aws import AwsClients, aws_errors_explained, describe_aws_error, is_aws_error
from kbsync_core.config import Settings
from kbsync_core.connections import Connections, credentials_for
from kbsync_core.errors import (
    AwsRequestError,
    ConnectionNotFoundError,
    IngestionInvalidError,
    IngestionJobFinishedError,
    IngestionJobNotFoundError,
    IngestionTargetNotFoundError,
)
from kbsync_core.ingestion.adapters import PAYLOAD_INVALID, UnknownAdapterError, adapter
from kbsync_core.ingestion.custom import CustomDelivery
from kbsync_core.ingestion.documents import Document, RecordProblem
from kbsync_core.ingestion.model import (
    CUSTOM,
    DATA_SOURCE_TYPES,
    S3,
    IngestionTarget,
    compressed_payload,
    document_json,
    is_final,
    job_body,
    payload_from,
)
from kbsync_core.ingestion.runner import Cancelled, JobRun, Leaving
from kbsync_core.ingestion.s3 import S3Delivery
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.polling import PollRateLimiter
from kbsync_core.runs import RunClosedError, RunCoordinator, Worker
from kbsync_core.store import ExecutionStore, Lease, LeaseLostError, RunRecord
from kbsync_core.store.ingestion import (
    ACTION_DELETE,
    ACTION_INGEST,
    CANCELLED,
    COMPLETED,
    FAILED,
    INGESTION_KIND,
    JOB_STATUSES,
    SKIPPED,
    STAGED,
    IngestionJobRecord,
    Outcome,
)
from kbsync_core.store.runs import ACTIVE, INTERRUPTED, now_ms
from kbsync_core.sync import (
    CREDENTIALS_FROM_CONNECTION,
    SyncEngine,
    credential_source,
)
from kbsync_core.timefmt import iso_utc, utc_now

logger = logging.getLogger(__name__)

# Bedrock's knowledge base and data source ids.
AWS_ID = re.compile(r"^[0-9a-zA-Z]{10}$")
# Staged records compared with the stored hashes at a time.
COMPARE_CHUNK = 500
# How often wait() looks at a job another replica works.
WAIT_STEP_SECONDS = 0.5
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
NOTHING_TO_DELETE = (
    "No document with this id was sent through kbsync (or it was deleted already): nothing to "
    "delete. Send it with force to delete it anyway."
)


@dataclass(frozen=True)
class ResolvedTarget:
    """A job's target and the credentials that act on it (never stored)."""

    target: IngestionTarget
    credentials: AwsCredentials


class IngestionJobs:
    """Creates, reads, cancels and works ingestion jobs; one per process (Kbsync.ingestion).

    `server_credentials`: the server's own identity, for a knowledge base named by id and for
    taking over such jobs (None: the server lends none, and only connections can be used);
    `default_region`: where a knowledge base named by id is looked for.
    """

    def __init__(
        self,
        settings: Settings,
        store: ExecutionStore,
        clients: AwsClients,
        coordinator: RunCoordinator,
        engine: SyncEngine,
        connections: Connections,
        *,
        server_credentials: AwsCredentials | None,
        default_region: str | None,
    ):
        self.settings = settings
        self.store = store
        self.jobs = store.ingestion
        self.clients = clients
        self.coordinator = coordinator
        self.engine = engine
        self.connections = connections
        self.server_credentials = server_credentials
        self.default_region = default_region
        # The document operations' quota is the account's, shared by the replicas that ingest.
        self.limiter = PollRateLimiter(settings.ingest_rate)
        self._create_lock = threading.Lock()
        coordinator.register_kind(INGESTION_KIND, self._take_over, self._can_take_over)
        coordinator.on_keeper_turn(self._count_replicas)

    # -- targets -----------------------------------------------------------------------------

    def resolve(
        self,
        knowledge_base_id: str,
        data_source_id: str | None = None,
        visible: Iterable[str] | None = None,
    ) -> ResolvedTarget:
        """A connection id, or a Bedrock knowledge base id (with the server's identity) and a
        data source id, needed only when the knowledge base has more than one data source that
        accepts documents (CUSTOM or S3). IngestionTargetNotFoundError when it names neither.
        """
        if not isinstance(knowledge_base_id, str) or not knowledge_base_id:
            raise IngestionTargetNotFoundError("Knowledge base not found")
        try:
            connection = self.connections.get(knowledge_base_id, visible)
        except ConnectionNotFoundError:
            connection = None
        if connection is not None:
            if data_source_id and data_source_id != connection.target.data_source_id:
                raise IngestionInvalidError(
                    f"Connection {connection.id} writes to data source "
                    f"{connection.target.data_source_id}, not {data_source_id}.",
                    [RecordProblem("dataSourceId", "does not match the connection's")],
                )
            credentials = credentials_for(connection)
            kind = self._data_source_type(connection.target, credentials)
            target = connection.target
            return ResolvedTarget(
                IngestionTarget(
                    target.region,
                    target.knowledge_base_id,
                    target.data_source_id,
                    kind,
                    connection.id,
                ),
                credentials,
            )
        if visible is not None or not AWS_ID.match(knowledge_base_id):
            # A token limited to connections acts on nothing else.
            raise IngestionTargetNotFoundError(f"Knowledge base {knowledge_base_id} not found")
        if self.server_credentials is None or self.default_region is None:
            raise IngestionTargetNotFoundError(
                f"Knowledge base {knowledge_base_id} not found: this server lends no identity of "
                "its own (KBSYNC_ALLOW_AMBIENT_CREDENTIALS) and no connection has that id."
            )
        credentials = self.server_credentials
        region = self.default_region
        if data_source_id:
            if not AWS_ID.match(data_source_id):
                raise IngestionTargetNotFoundError(f"Data source {data_source_id} not found")
            target = SyncTarget(region, knowledge_base_id, data_source_id)
            kind = self._data_source_type(target, credentials)
            return ResolvedTarget(
                IngestionTarget(region, knowledge_base_id, data_source_id, kind), credentials
            )
        accepting = self._accepting_data_sources(region, knowledge_base_id, credentials)
        if not accepting:
            raise IngestionInvalidError(
                f"Knowledge base {knowledge_base_id} has no data source that accepts documents "
                "(CUSTOM or S3).",
                [RecordProblem("knowledgeBaseId", "has no CUSTOM or S3 data source")],
            )
        if len(accepting) > 1:
            names = ", ".join(f"{ds_id} ({kind})" for ds_id, kind in accepting)
            raise IngestionInvalidError(
                f"Knowledge base {knowledge_base_id} has {len(accepting)} data sources that accept "
                f"documents ({names}): say which with dataSourceId.",
                [RecordProblem("dataSourceId", "is required for this knowledge base")],
            )
        ds_id, kind = accepting[0]
        return ResolvedTarget(IngestionTarget(region, knowledge_base_id, ds_id, kind), credentials)

    def _data_source_type(self, target: SyncTarget, credentials: AwsCredentials) -> str:
        client = self.clients.bedrock_agent(credentials, target.region)
        try:
            with aws_errors_explained(credentials):
                data_source = client.get_data_source(
                    knowledgeBaseId=target.knowledge_base_id, dataSourceId=target.data_source_id
                )["dataSource"]
        except AwsRequestError as error:
            if error.code == "ResourceNotFoundException":
                raise IngestionTargetNotFoundError(str(error)) from None
            raise
        kind = (data_source.get("dataSourceConfiguration") or {}).get("type")
        if kind not in DATA_SOURCE_TYPES:
            raise IngestionInvalidError(
                f"Data source {target.data_source_id} is of type {kind}: kbsync puts documents "
                "only into CUSTOM data sources (the document API) and S3 ones (the bucket, then "
                "a sync).",
                [RecordProblem("dataSourceId", f"is a {kind} data source")],
            )
        return kind

    def _accepting_data_sources(
        self, region: str, knowledge_base_id: str, credentials: AwsCredentials
    ) -> list[tuple[str, str]]:
        client = self.clients.bedrock_agent(credentials, region)
        try:
            with aws_errors_explained(credentials):
                summaries = []
                for page in client.get_paginator("list_data_sources").paginate(
                    knowledgeBaseId=knowledge_base_id
                ):
                    summaries += page.get("dataSourceSummaries") or []
                accepting = []
                for summary in summaries:
                    data_source = client.get_data_source(
                        knowledgeBaseId=knowledge_base_id, dataSourceId=summary["dataSourceId"]
                    )["dataSource"]
                    kind = (data_source.get("dataSourceConfiguration") or {}).get("type")
                    if kind in DATA_SOURCE_TYPES:
                        accepting.append((summary["dataSourceId"], kind))
        except AwsRequestError as error:
            if error.code == "ResourceNotFoundException":
                raise IngestionTargetNotFoundError(
                    f"Knowledge base {knowledge_base_id} not found"
                ) from None
            raise
        return sorted(accepting)

    # -- creating ----------------------------------------------------------------------------

    def create(
        self,
        knowledge_base_id: str,
        adapter_name: str,
        data,
        *,
        data_source_id: str | None = None,
        force: bool = False,
        visible: Iterable[str] | None = None,
    ) -> IngestionJobRecord:
        """Read `data` with the adapter, resolve the target, stage and launch the job.

        IngestionInvalidError (with every problem) for an unknown adapter or a payload the
        adapter refuses; IngestionTargetNotFoundError; AwsRequestError from GetDataSource.
        """
        try:
            reader = adapter(adapter_name)
        except UnknownAdapterError as unknown:
            raise IngestionInvalidError(
                str(unknown), [RecordProblem("adapterType", str(unknown))]
            ) from None
        documents, problems = reader.read(data)
        if problems:
            raise IngestionInvalidError(PAYLOAD_INVALID, problems)
        resolved = self.resolve(knowledge_base_id, data_source_id, visible)
        return self.create_from_documents(
            resolved, documents, adapter_name=adapter_name, force=force, payload=data
        )

    def create_from_documents(
        self,
        resolved: ResolvedTarget,
        documents: Sequence[Document],
        *,
        adapter_name: str,
        force: bool = False,
        payload=None,
    ) -> IngestionJobRecord:
        """Stage Documents already read (an adapter's, a table job's) and launch the job."""
        if not documents:
            raise IngestionInvalidError(
                "The payload holds no records.", [RecordProblem("data", "holds no records")]
            )
        repeated = duplicated(documents)
        collisions = [
            RecordProblem(f"data[{position}].id", f"Id {document.id!r} appears more than once")
            for position, document in enumerate(documents)
            if document.id in repeated
        ]
        if collisions:
            raise IngestionInvalidError(PAYLOAD_INVALID, collisions)
        target = resolved.target
        job_id = str(uuid.uuid4())
        created_at = iso_utc(utc_now())
        credentials = resolved.credentials
        self.jobs.create(
            {
                "id": job_id,
                "region": target.region,
                "knowledge_base_id": target.knowledge_base_id,
                "data_source_id": target.data_source_id,
                "data_source_type": target.data_source_type,
                "connection_id": target.connection_id,
                "adapter": adapter_name,
                "force": bool(force),
                "created_at": created_at,
                "record_count": len(documents),
            },
            (
                (document.id, document_json(document), document.content_hash(), document.deleted)
                for document in documents
            ),
            lease=self.coordinator.lease_for(job_id),
            credential_source=(
                CREDENTIALS_FROM_CONNECTION
                if target.connection_id
                else credential_source(credentials)
            ),
            profile_name=credentials.profile_name,
            payload=None if payload is None else compressed_payload(payload),
        )
        staged = self.jobs.get(job_id)  # pending: as it is before its worker begins
        self._launch(self.coordinator.lease_for(job_id), credentials)
        return staged

    # -- reading -----------------------------------------------------------------------------

    def job(self, job_id: str) -> IngestionJobRecord:
        job = self.jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None:
            raise IngestionJobNotFoundError(f"Job {job_id} not found")
        return job

    def get(self, job_id: str, *, include_payload: bool = False) -> dict:
        """Seed 002's body of one job, with every record's result."""
        job = self.job(job_id)
        payload = payload_from(self.jobs.payload(job_id)) if include_payload else None
        return job_body(job, self.jobs.results(job_id), payload, include_payload=include_payload)

    def list(
        self,
        *,
        status: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        created_from: str | None = None,
        created_to: str | None = None,
        include_payload: bool = False,
        visible: Iterable[str] | None = None,
    ) -> dict:
        """{"total", "jobs"}: newest first; each job with its results (seed 002's list).
        `visible`: only the jobs of those connections (None: every job)."""
        if status is not None and status not in JOB_STATUSES:
            raise IngestionInvalidError(
                f"status must be one of {', '.join(JOB_STATUSES)}",
                [RecordProblem("status", f"must be one of {', '.join(JOB_STATUSES)}")],
            )
        total, jobs = self.jobs.list_jobs(
            status=status,
            limit=limit,
            offset=offset,
            created_from=created_from,
            created_to=created_to,
            connection_ids=visible,
        )
        return {
            "total": total,
            "jobs": [
                job_body(
                    job,
                    self.jobs.results(job.id),
                    payload_from(self.jobs.payload(job.id)) if include_payload else None,
                    include_payload=include_payload,
                )
                for job in jobs
            ],
        }

    def wait(self, job_id: str, timeout: float) -> IngestionJobRecord:
        """Block until the job ended (whichever replica works it) or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            left = deadline - time.monotonic()
            if is_final(job) or left <= 0:
                return job
            worker = self.coordinator.worker(job_id)
            thread = worker.thread if worker is not None else None
            if thread is not None and thread.is_alive():
                thread.join(min(left, WAIT_STEP_SECONDS))
            else:
                time.sleep(min(left, WAIT_STEP_SECONDS / 10))

    # -- cancelling --------------------------------------------------------------------------

    def cancel(self, job_id: str) -> IngestionJobRecord:
        """Ask the job to stop sending; durable once this returns. Whoever works it ends it
        cancelled, leaving what was sent; a job nobody works is ended here.
        IngestionJobFinishedError when it already ended."""
        job = self.job(job_id)
        if job.status in (COMPLETED, FAILED, CANCELLED):
            raise IngestionJobFinishedError(job_id, job.status)
        if not self.coordinator.request_stop(job_id, iso_utc(utc_now())):
            raise IngestionJobFinishedError(job_id, self.job(job_id).status)
        run = self.store.runs.get(job_id)
        held = self.coordinator.worker(job_id) is not None or run.is_held_at(now_ms())
        if not held:
            # Nobody works it: end it here (what it sent stays, as its message says).
            self.coordinator.adopt(job_id, (ACTIVE, INTERRUPTED), self._end_cancelled_now)
        return self.job(job_id)

    def _end_cancelled_now(self, lease: Lease) -> None:
        message = cancelled_message(self.job(lease.run_id))
        self.jobs.end(lease, CANCELLED, iso_utc(utc_now()), message)

    # -- the worker --------------------------------------------------------------------------

    def _launch(self, lease: Lease, credentials: AwsCredentials) -> bool:
        try:
            worker = self.coordinator.launch(lease, credentials, self._work, "kbsync-ingest")
        except RunClosedError:
            self.store.runs.release(lease)
            raise
        return worker is not None

    def _work(self, worker: Worker) -> None:
        run = JobRun(
            worker,
            self.job(worker.run_id),
            self.jobs,
            self.coordinator,
            self.clients,
            self.settings,
            self.limiter,
        )
        try:
            run.step()
            self.jobs.begin(run.lease, run.now())
            self._compare(run)
            if run.job.data_source_type == CUSTOM:
                CustomDelivery(run).deliver()
            else:
                S3Delivery(run, self.engine).deliver()
            run.step()
            self.jobs.end(run.lease, COMPLETED, run.now())
        except Cancelled:
            self.jobs.end(run.lease, CANCELLED, run.now(), cancelled_message(self.job(run.job.id)))
        except Leaving:
            return  # as it is: whoever works it next resumes it
        except LeaseLostError:
            raise  # another replica took it over: the coordinator says so
        except Exception as error:
            if self.coordinator.should_leave(worker):
                logger.warning("Ingestion job %s left on shutdown: %s", worker.run_id, type(error))
                return
            if is_aws_error(error):
                message = describe_aws_error(error, worker.credentials)
            else:
                logger.exception("Ingestion job %s failed inside kbsync", worker.run_id)
                message = worker.credentials.redact(f"{type(error).__name__}: {error}")
            self.jobs.end(run.lease, FAILED, run.now(), message)

    def _compare(self, run: JobRun) -> None:
        """Each staged record against the stored hash of its document: unchanged → skipped,
        changed or new → to ingest, deleted → to delete (a document kbsync holds no hash for
        is skipped: nothing it sent to delete); `force` sends every one."""
        force = run.job.force
        while True:
            staged = self.jobs.records(run.job.id, [STAGED], limit=COMPARE_CHUNK)
            if not staged:
                return
            run.step()
            stored = self.jobs.stored_hashes(run.target, [record.source_id for record in staged])
            actions: dict[int, str] = {}
            skipped: list[Outcome] = []
            for record in staged:
                known = stored.get(record.source_id)
                if record.deleted:
                    if force or known is not None:
                        actions[record.position] = ACTION_DELETE
                    else:
                        skipped.append(
                            Outcome(
                                record.position, SKIPPED, record.source_id, error=NOTHING_TO_DELETE
                            )
                        )
                elif not force and known == record.content_hash:
                    skipped.append(
                        Outcome(
                            record.position, SKIPPED, record.source_id, entry_id=record.source_id
                        )
                    )
                else:
                    actions[record.position] = ACTION_INGEST
            self.jobs.queue(run.lease, actions, skipped, run.now())

    # -- runs nobody works -------------------------------------------------------------------

    def _takeover_credentials(self, run: RunRecord) -> AwsCredentials | None:
        if run.credential_source == CREDENTIALS_FROM_CONNECTION:
            return self.connections.credentials_by_id(run.connection_id)
        if self.server_credentials is None:
            return None
        if run.profile_name:
            return AwsCredentials(profile_name=run.profile_name)
        return self.server_credentials

    def _can_take_over(self, run: RunRecord) -> bool:
        return run.state != INTERRUPTED or self._takeover_credentials(run) is not None

    def _take_over(self, run: RunRecord, lease: Lease) -> None:
        credentials = self._takeover_credentials(run)
        if credentials is None:
            if run.stop_requested:
                self._end_cancelled_now(lease)
                return
            self.store.runs.interrupt(lease)
            return
        logger.info("Taking over ingestion job %s", run.id)
        self._launch(lease, credentials)

    def _count_replicas(self) -> None:
        owners = self.store.runs.live_owners(INGESTION_KIND)
        self.limiter.set_replicas(len(owners | {self.coordinator.owner_id}))


def duplicated(documents: Sequence[Document]) -> dict[str, int]:
    counts = Counter(document.id for document in documents)
    return {document_id: n for document_id, n in counts.items() if n > 1}


def cancelled_message(job: IngestionJobRecord) -> str:
    """What a cancelled job says: how much went in before the cancel."""
    where = "the data source's bucket" if job.data_source_type == S3 else "Bedrock"
    return (
        f"Cancelled: {job.sent} of {job.record_count} records had been sent to {where} and stay "
        f"there; {job.processed} had a result; the others were not sent."
    )
