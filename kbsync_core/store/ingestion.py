"""Ingestion jobs, their staged records and the content hashes of what was sent, persisted.

A job is a run (the runs table, kind "ingestion"): created already leased by the replica that
stages it, worked by a Worker, taken over when its lease expires. Every write a worker makes
renews its lease in the same transaction (renew_within), so a replica that lost the job writes
nothing; the counters of progress move in the same transaction as the records they count.
"""

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from kbsync_core.models import SyncTarget
from kbsync_core.store.runs import Lease, end_within, insert_run, renew_within
from kbsync_core.store.schema import (
    ingestion_hashes_table,
    ingestion_jobs_table,
    ingestion_records_table,
)

INGESTION_KIND = "ingestion"

# A job's statuses (seed 002's, plus cancelled).
PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
JOB_STATUSES = (PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED)
FINAL_JOB_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})

# Where a record is (schema.py says what each means).
STAGED = "staged"
QUEUED = "queued"
BATCHED = "batched"
SENT = "sent"
DONE = "done"

# What a queued record asks of Bedrock.
ACTION_INGEST = "ingest"
ACTION_DELETE = "delete"

# A record's result.
SUCCESS = "success"
RECORD_FAILED = "failed"
SKIPPED = "skipped"

# Rows written per INSERT while staging: bounded memory whatever the job's size.
STAGE_CHUNK = 500


def document_digest(document_id: str) -> str:
    """The hashes table's key for a document id (any length, any characters)."""
    return hashlib.sha256(document_id.encode()).hexdigest()


@dataclass(frozen=True)
class IngestionJobRecord:
    id: str
    target: SyncTarget
    data_source_type: str
    connection_id: str | None
    adapter: str
    force: bool
    status: str
    created_at: str
    started_at: str | None
    completed_at: str | None
    updated_at: str
    record_count: int
    processed: int
    successful: int
    failed: int
    skipped: int
    entries_created: int
    entries_deleted: int
    sent: int
    sync_execution_id: str | None
    error: str | None


@dataclass(frozen=True)
class StagedRecord:
    """One record as the worker reads it: where it is and what it is."""

    position: int
    source_id: str
    document: str  # the Document as JSON (kbsync_core/ingestion/model.py)
    content_hash: str
    deleted: bool
    state: str
    action: str | None
    batch: int | None


@dataclass(frozen=True)
class RecordResult:
    """A record's outcome as seed 002's `results` show it."""

    position: int
    source_id: str
    status: str
    entry_id: str | None
    aws_status: str | None
    error: str | None
    document: str


@dataclass(frozen=True)
class Outcome:
    """What the worker learnt of one record: its result, and what it does to the stored hash
    (`hash` set: the document is indexed as hashed; `forget`: it is gone from the data source).
    `created`/`deleted` say which of the job's entry counters a success adds to."""

    position: int
    status: str
    source_id: str
    entry_id: str | None = None
    aws_status: str | None = None
    error: str | None = None
    content_hash: str | None = None
    forget: bool = False
    deleted: bool = False


class IngestionStore:
    """One short transaction per operation, under the store's locks (see ExecutionStore)."""

    def __init__(self, engine: sa.engine.Engine, write_lock, read_lock):
        self._engine = engine
        self._write_lock = write_lock
        self._read_lock = read_lock

    # -- creating ----------------------------------------------------------------------------

    def create(
        self,
        job: dict,
        records: Iterable[tuple[str, str, str, bool]],
        *,
        lease: Lease,
        credential_source: str,
        profile_name: str | None,
        payload: bytes | None,
    ) -> None:
        """The run, the job and every record `(source_id, document_json, hash, deleted)`, in
        one transaction: a job exists with all its records or not at all."""
        with self._write_lock, self._engine.begin() as connection:
            insert_run(
                connection,
                job["id"],
                INGESTION_KIND,
                job["created_at"],
                lease,
                credential_source,
                profile_name,
                job.get("connection_id"),
            )
            connection.execute(
                ingestion_jobs_table.insert().values(
                    **job,
                    status=PENDING,
                    updated_at=job["created_at"],
                    processed=0,
                    successful=0,
                    failed=0,
                    skipped=0,
                    entries_created=0,
                    entries_deleted=0,
                    sent=0,
                    payload=payload,
                )
            )
            for chunk in _chunks(enumerate(records), STAGE_CHUNK):
                connection.execute(
                    ingestion_records_table.insert(),
                    [
                        {
                            "job_id": job["id"],
                            "position": position,
                            "source_id": source_id,
                            "document": document,
                            "content_hash": content_hash,
                            "deleted": deleted,
                            "state": STAGED,
                        }
                        for position, (source_id, document, content_hash, deleted) in chunk
                    ],
                )

    # -- reading -----------------------------------------------------------------------------

    def get(self, job_id: str) -> IngestionJobRecord | None:
        query = sa.select(*_JOB_COLUMNS).where(ingestion_jobs_table.c.id == job_id)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _job(row) if row else None

    def list_jobs(
        self,
        *,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
        created_from: str | None = None,
        created_to: str | None = None,
        connection_ids: Iterable[str] | None = None,
    ) -> tuple[int, list[IngestionJobRecord]]:
        """(how many match, the page of them), newest first; `connection_ids`: only the jobs
        sent through those connections (a token limited to them)."""
        conditions = []
        if connection_ids is not None:
            conditions.append(ingestion_jobs_table.c.connection_id.in_(list(connection_ids)))
        if status is not None:
            conditions.append(ingestion_jobs_table.c.status == status)
        if created_from is not None:
            conditions.append(ingestion_jobs_table.c.created_at >= created_from)
        if created_to is not None:
            conditions.append(ingestion_jobs_table.c.created_at <= created_to)
        where = sa.and_(sa.true(), *conditions)
        page = (
            sa.select(*_JOB_COLUMNS)
            .where(where)
            .order_by(ingestion_jobs_table.c.created_at.desc(), ingestion_jobs_table.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        count = sa.select(sa.func.count()).select_from(ingestion_jobs_table).where(where)
        with self._read_lock, self._engine.connect() as connection:
            total = connection.execute(count).scalar_one()
            jobs = [_job(row) for row in connection.execute(page).mappings()]
        return total, jobs

    def payload(self, job_id: str) -> bytes | None:
        query = sa.select(ingestion_jobs_table.c.payload).where(ingestion_jobs_table.c.id == job_id)
        with self._read_lock, self._engine.connect() as connection:
            return connection.execute(query).scalar()

    def results(self, job_id: str, *, failed_only: bool = False) -> list[RecordResult]:
        """The records that are done, in their order in the payload."""
        query = (
            sa.select(
                ingestion_records_table.c.position,
                ingestion_records_table.c.source_id,
                ingestion_records_table.c.status,
                ingestion_records_table.c.entry_id,
                ingestion_records_table.c.aws_status,
                ingestion_records_table.c.error,
                ingestion_records_table.c.document,
            )
            .where(
                ingestion_records_table.c.job_id == job_id,
                ingestion_records_table.c.state == DONE,
            )
            .order_by(ingestion_records_table.c.position)
        )
        if failed_only:
            query = query.where(ingestion_records_table.c.status == RECORD_FAILED)
        with self._read_lock, self._engine.connect() as connection:
            return [RecordResult(**row) for row in connection.execute(query).mappings()]

    def records(
        self, job_id: str, states: Iterable[str], limit: int | None = None, after: int = -1
    ) -> list[StagedRecord]:
        """The job's records in `states`, by position, from after position `after`."""
        query = (
            sa.select(*_STAGED_COLUMNS)
            .where(
                ingestion_records_table.c.job_id == job_id,
                ingestion_records_table.c.state.in_(list(states)),
                ingestion_records_table.c.position > after,
            )
            .order_by(ingestion_records_table.c.position)
            .limit(limit)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [StagedRecord(**row) for row in connection.execute(query).mappings()]

    def count_in(self, job_id: str, states: Iterable[str]) -> int:
        query = sa.select(sa.func.count()).where(
            ingestion_records_table.c.job_id == job_id,
            ingestion_records_table.c.state.in_(list(states)),
        )
        with self._read_lock, self._engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def last_batch(self, job_id: str) -> int:
        """The highest batch number the job composed (0: none yet)."""
        query = sa.select(sa.func.max(ingestion_records_table.c.batch)).where(
            ingestion_records_table.c.job_id == job_id
        )
        with self._read_lock, self._engine.connect() as connection:
            return connection.execute(query).scalar() or 0

    def stored_hashes(self, target: SyncTarget, document_ids: Iterable[str]) -> dict[str, str]:
        """The stored content hash of each of these documents that has one, by document id."""
        keys = {document_digest(document_id): document_id for document_id in document_ids}
        if not keys:
            return {}
        query = sa.select(
            ingestion_hashes_table.c.document_digest, ingestion_hashes_table.c.content_hash
        ).where(_hash_target(target), ingestion_hashes_table.c.document_digest.in_(list(keys)))
        with self._read_lock, self._engine.connect() as connection:
            return {keys[key]: value for key, value in connection.execute(query)}

    def forget_hashes(self) -> int:
        """Forget every stored content hash (the embedded sandbox started empty): the next job
        sends every record again. How many were forgotten."""
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(ingestion_hashes_table.delete()).rowcount

    def unfinished_of(self, target: SyncTarget) -> list[str]:
        """Jobs of a data source not yet ended, oldest first."""
        query = (
            sa.select(ingestion_jobs_table.c.id)
            .where(
                ingestion_jobs_table.c.region == target.region,
                ingestion_jobs_table.c.knowledge_base_id == target.knowledge_base_id,
                ingestion_jobs_table.c.data_source_id == target.data_source_id,
                ingestion_jobs_table.c.status.in_([PENDING, PROCESSING]),
            )
            .order_by(ingestion_jobs_table.c.created_at, ingestion_jobs_table.c.id)
        )
        with self._read_lock, self._engine.connect() as connection:
            return list(connection.execute(query).scalars())

    # -- the worker's writes (each renews the lease in its transaction) ---------------------

    def begin(self, lease: Lease, started_at: str) -> None:
        """pending → processing (a job taken over keeps its first start)."""
        with self._write_lock, self._engine.begin() as connection:
            renew_within(connection, lease)
            connection.execute(
                ingestion_jobs_table.update()
                .where(ingestion_jobs_table.c.id == lease.run_id)
                .values(
                    status=PROCESSING,
                    started_at=sa.func.coalesce(ingestion_jobs_table.c.started_at, started_at),
                    updated_at=started_at,
                )
            )

    def queue(self, lease: Lease, actions: dict[int, str], done: list[Outcome], at: str) -> None:
        """Records compared with the stored hashes: those to send queued with their action,
        the others done (skipped), in one transaction."""
        with self._write_lock, self._engine.begin() as connection:
            renew_within(connection, lease)
            for action in (ACTION_INGEST, ACTION_DELETE):
                positions = [p for p, a in actions.items() if a == action]
                for chunk in _chunks(positions, STAGE_CHUNK):
                    connection.execute(
                        ingestion_records_table.update()
                        .where(_records_at(lease.run_id, chunk))
                        .values(state=QUEUED, action=action)
                    )
            self._finish_records(connection, lease.run_id, done, at, target=None)

    def compose_batch(self, lease: Lease, positions: list[int], batch: int) -> None:
        """The batch's composition, stored before it is sent."""
        with self._write_lock, self._engine.begin() as connection:
            renew_within(connection, lease)
            connection.execute(
                ingestion_records_table.update()
                .where(_records_at(lease.run_id, positions))
                .values(state=BATCHED, batch=batch)
            )

    def mark_sent(
        self, lease: Lease, positions: list[int], done: list[Outcome], target: SyncTarget, at: str
    ) -> None:
        """AWS accepted these records (their final status is awaited); `done` ended already
        (AWS answered a final status at once)."""
        with self._write_lock, self._engine.begin() as connection:
            renew_within(connection, lease)
            for chunk in _chunks(positions, STAGE_CHUNK):
                connection.execute(
                    ingestion_records_table.update()
                    .where(_records_at(lease.run_id, chunk))
                    .values(state=SENT)
                )
            connection.execute(
                ingestion_jobs_table.update()
                .where(ingestion_jobs_table.c.id == lease.run_id)
                .values(
                    sent=ingestion_jobs_table.c.sent + len(positions) + len(done), updated_at=at
                )
            )
            self._finish_records(connection, lease.run_id, done, at, target)

    def finish_records(
        self, lease: Lease, outcomes: list[Outcome], target: SyncTarget, at: str
    ) -> None:
        """Records done: their results, the job's counters and the stored hashes, together."""
        with self._write_lock, self._engine.begin() as connection:
            renew_within(connection, lease)
            self._finish_records(connection, lease.run_id, outcomes, at, target)

    def set_sync_execution(self, lease: Lease, execution_id: str) -> None:
        with self._write_lock, self._engine.begin() as connection:
            renew_within(connection, lease)
            connection.execute(
                ingestion_jobs_table.update()
                .where(ingestion_jobs_table.c.id == lease.run_id)
                .values(sync_execution_id=execution_id)
            )

    def end(self, lease: Lease, status: str, at: str, error: str | None = None) -> None:
        """The job's final status, and its run ended, in one transaction."""
        with self._write_lock, self._engine.begin() as connection:
            renew_within(connection, lease)
            connection.execute(
                ingestion_jobs_table.update()
                .where(ingestion_jobs_table.c.id == lease.run_id)
                .values(status=status, completed_at=at, updated_at=at, error=error)
            )
            end_within(connection, lease.run_id)

    def _finish_records(
        self,
        connection,
        job_id: str,
        outcomes: list[Outcome],
        at: str,
        target: SyncTarget | None,
    ) -> None:
        if not outcomes:
            return
        records = ingestion_records_table.c
        # One executemany for them all: a job's 10,000 skipped records are one round trip.
        connection.execute(
            ingestion_records_table.update()
            .where(records.job_id == job_id, records.position == sa.bindparam("at_position"))
            .values(
                state=DONE,
                status=sa.bindparam("new_status"),
                entry_id=sa.bindparam("new_entry_id"),
                aws_status=sa.bindparam("new_aws_status"),
                error=sa.bindparam("new_error"),
            ),
            [
                {
                    "at_position": o.position,
                    "new_status": o.status,
                    "new_entry_id": o.entry_id,
                    "new_aws_status": o.aws_status,
                    "new_error": o.error,
                }
                for o in outcomes
            ],
        )
        counts = {
            status: sum(outcome.status == status for outcome in outcomes)
            for status in (SUCCESS, RECORD_FAILED, SKIPPED)
        }
        created = sum(o.status == SUCCESS and not o.deleted for o in outcomes)
        deleted = sum(o.status == SUCCESS and o.deleted for o in outcomes)
        jobs = ingestion_jobs_table.c
        connection.execute(
            ingestion_jobs_table.update()
            .where(jobs.id == job_id)
            .values(
                processed=jobs.processed + len(outcomes),
                successful=jobs.successful + counts[SUCCESS],
                failed=jobs.failed + counts[RECORD_FAILED],
                skipped=jobs.skipped + counts[SKIPPED],
                entries_created=jobs.entries_created + created,
                entries_deleted=jobs.entries_deleted + deleted,
                updated_at=at,
            )
        )
        if target is None:
            return
        changed = [o for o in outcomes if o.status == SUCCESS and (o.forget or o.content_hash)]
        keys = [document_digest(o.source_id) for o in changed]
        for chunk in _chunks(keys, STAGE_CHUNK):
            connection.execute(
                ingestion_hashes_table.delete().where(
                    _hash_target(target), ingestion_hashes_table.c.document_digest.in_(chunk)
                )
            )
        kept = [o for o in changed if not o.forget]
        if kept:
            connection.execute(
                ingestion_hashes_table.insert(),
                [
                    {
                        "region": target.region,
                        "knowledge_base_id": target.knowledge_base_id,
                        "data_source_id": target.data_source_id,
                        "document_digest": document_digest(o.source_id),
                        "document_id": o.source_id,
                        "content_hash": o.content_hash,
                        "job_id": job_id,
                        "updated_at": at,
                    }
                    for o in kept
                ],
            )


_JOB_COLUMNS = [c for c in ingestion_jobs_table.c if c.name != "payload"]
_STAGED_COLUMNS = [
    ingestion_records_table.c[name]
    for name in (
        "position",
        "source_id",
        "document",
        "content_hash",
        "deleted",
        "state",
        "action",
        "batch",
    )
]


def _records_at(job_id: str, positions: Iterable[int]):
    return sa.and_(
        ingestion_records_table.c.job_id == job_id,
        ingestion_records_table.c.position.in_(list(positions)),
    )


def _hash_target(target: SyncTarget):
    return sa.and_(
        ingestion_hashes_table.c.region == target.region,
        ingestion_hashes_table.c.knowledge_base_id == target.knowledge_base_id,
        ingestion_hashes_table.c.data_source_id == target.data_source_id,
    )


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _job(row) -> IngestionJobRecord:
    values = dict(row)
    target = SyncTarget(
        values.pop("region"), values.pop("knowledge_base_id"), values.pop("data_source_id")
    )
    return IngestionJobRecord(target=target, **values)
