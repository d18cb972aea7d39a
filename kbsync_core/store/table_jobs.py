"""The table_jobs and table_job_runs tables: what table jobs there are, which slot each fires
next, their watermarks, and every run (the UNIQUE (job, slot) row is a slot's claim).

A job has at most one run under way: `running_run_id`, set by a conditional update, so two
replicas (or a slot and a "run now") cannot both start one. A run's end, the watermark it moves
and the job's `running_run_id` cleared are one transaction.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

import sqlalchemy as sa

from kbsync_core.store.schema import table_job_runs_table, table_jobs_table

# A run's statuses: running while it reads or its ingestion job works; then its ingestion job's
# final status, or skipped (nothing new to read, or another run under way).
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
SKIPPED = "skipped"
RUN_STATUSES = (RUNNING, COMPLETED, FAILED, CANCELLED, SKIPPED)

# What started a run.
TRIGGER_SCHEDULE = "schedule"
TRIGGER_MANUAL = "manual"


@dataclass(frozen=True)
class TableJobRecord:
    id: str
    name: str
    source_table: str
    content_columns: list
    filter_column: str
    row_id_columns: list  # the primary key's columns (empty: none)
    kb_name: str
    connection_id: str | None
    region: str
    knowledge_base_id: str
    data_source_id: str
    interval: str
    start_at: str
    end_at: str
    paused: bool
    next_slot_at: str | None
    watermark: dict | None
    running_run_id: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class TableRunRecord:
    id: str
    job_id: str
    slot_at: str
    trigger: str
    status: str
    claimed_by: str
    started_at: str
    heartbeat_at: str | None
    finished_at: str | None
    ingestion_job_id: str | None
    rows_read: int
    rows_sent: int
    rows_skipped: int
    rows_failed: int
    error: str | None
    watermark_before: dict | None
    watermark_after: dict | None


class TableJobStore:
    """One short transaction per operation, under the store's locks (see ExecutionStore)."""

    def __init__(self, engine: sa.engine.Engine, write_lock, read_lock):
        self._engine = engine
        self._write_lock = write_lock
        self._read_lock = read_lock

    # -- jobs --------------------------------------------------------------------------------

    def insert(self, record: TableJobRecord) -> bool:
        """False when another job has the name (UNIQUE): two creations racing, one wins."""
        try:
            with self._write_lock, self._engine.begin() as connection:
                connection.execute(table_jobs_table.insert().values(**record.__dict__))
        except sa.exc.IntegrityError:
            return False
        return True

    def get(self, job_id: str) -> TableJobRecord | None:
        query = sa.select(table_jobs_table).where(table_jobs_table.c.id == job_id)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _job(row) if row else None

    def by_name(self, name: str) -> TableJobRecord | None:
        query = sa.select(table_jobs_table).where(table_jobs_table.c.name == name)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _job(row) if row else None

    def all(self) -> list[TableJobRecord]:
        """Every job, oldest first."""
        query = sa.select(table_jobs_table).order_by(
            table_jobs_table.c.created_at, table_jobs_table.c.id
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_job(row) for row in connection.execute(query).mappings()]

    def count_active(self, now: str) -> int:
        """Jobs whose window has not ended (scheduled or paused)."""
        query = sa.select(sa.func.count()).where(table_jobs_table.c.end_at > now)
        with self._read_lock, self._engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def due(self, now: str) -> list[TableJobRecord]:
        """Jobs whose next slot is due: one query on ix_table_jobs_next_slot_at."""
        query = (
            sa.select(table_jobs_table)
            .where(table_jobs_table.c.next_slot_at <= now)
            .order_by(table_jobs_table.c.next_slot_at)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_job(row) for row in connection.execute(query).mappings()]

    def set_paused(self, job_id: str, paused: bool, next_slot_at: str | None, now: str) -> bool:
        statement = (
            table_jobs_table.update()
            .where(table_jobs_table.c.id == job_id)
            .values(paused=paused, next_slot_at=next_slot_at, updated_at=now)
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def advance(self, job_id: str, expected: str, next_slot_at: str | None) -> bool:
        """Move a job's next slot on from `expected`; False if someone moved it first."""
        statement = (
            table_jobs_table.update()
            .where(table_jobs_table.c.id == job_id, table_jobs_table.c.next_slot_at == expected)
            .values(next_slot_at=next_slot_at)
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def forget_watermarks(self) -> int:
        """Every job loads its table from the start again (the embedded sandbox started
        empty). How many jobs there are."""
        statement = table_jobs_table.update().values(watermark=sa.null())
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount

    def delete(self, job_id: str) -> bool:
        """The job and its runs (the ingestion jobs its runs made keep their history)."""
        with self._write_lock, self._engine.begin() as connection:
            # Explicitly, not by the foreign key's cascade: SQLite enforces it only per
            # connection setting.
            connection.execute(
                table_job_runs_table.delete().where(table_job_runs_table.c.job_id == job_id)
            )
            statement = table_jobs_table.delete().where(table_jobs_table.c.id == job_id)
            return connection.execute(statement).rowcount == 1

    # -- runs --------------------------------------------------------------------------------

    def claim_run(
        self, run: TableRunRecord, *, record_skipped: bool = True
    ) -> TableRunRecord | None:
        """Insert the run's (job, slot) row and, if no run of the job is under way, make it
        the job's running one, in one transaction. None when the slot was claimed already;
        the run otherwise: RUNNING, or SKIPPED (`error` names the run under way; recorded only
        when `record_skipped`: a "run now" refused is no run)."""
        jobs = table_jobs_table.c
        try:
            with self._write_lock, self._engine.begin() as connection:
                taken = connection.execute(
                    table_jobs_table.update()
                    .where(jobs.id == run.job_id, jobs.running_run_id.is_(None))
                    .values(running_run_id=run.id)
                ).rowcount
                if taken != 1:
                    busy = connection.execute(
                        sa.select(jobs.running_run_id).where(jobs.id == run.job_id)
                    ).scalar()
                    run = replace(
                        run,
                        status=SKIPPED,
                        finished_at=run.started_at,
                        heartbeat_at=None,
                        error=f"Another run of this job was under way (run {busy}).",
                    )
                connection.execute(table_job_runs_table.insert().values(**run.__dict__))
        except sa.exc.IntegrityError:
            return None
        return run

    def record_run(self, run_id: str, **changes) -> None:
        """Change a run under way: its ingestion job, counters, heartbeat, watermark_after."""
        statement = table_job_runs_table.update().where(table_job_runs_table.c.id == run_id)
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(statement.values(**changes))

    def take_over_run(
        self, run_id: str, expected_heartbeat: str | None, heartbeat: str, owner: str
    ) -> bool:
        """Take up a run whose replica stopped renewing it, unless another replica did first."""
        runs = table_job_runs_table.c
        statement = (
            table_job_runs_table.update()
            .where(
                runs.id == run_id, runs.status == RUNNING, runs.heartbeat_at == expected_heartbeat
            )
            .values(heartbeat_at=heartbeat, claimed_by=owner)
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def finish_run(self, run: TableRunRecord, *, advance_watermark: bool) -> bool:
        """The run's end, the job's watermark moved to the run's `watermark_after` when
        `advance_watermark`, and the job free for its next run: one transaction. False when
        the run had ended already (another replica finished it)."""
        runs = table_job_runs_table.c
        jobs = table_jobs_table.c
        values = {
            name: getattr(run, name)
            for name in (
                "status",
                "finished_at",
                "ingestion_job_id",
                "rows_read",
                "rows_sent",
                "rows_skipped",
                "rows_failed",
                "error",
                "watermark_after",
            )
        }
        with self._write_lock, self._engine.begin() as connection:
            ended = connection.execute(
                table_job_runs_table.update()
                .where(runs.id == run.id, runs.status == RUNNING)
                .values(**values, heartbeat_at=None)
            ).rowcount
            if ended != 1:
                return False
            job_values = {"running_run_id": None}
            if advance_watermark and run.watermark_after is not None:
                job_values["watermark"] = run.watermark_after
            connection.execute(
                table_jobs_table.update()
                .where(jobs.id == run.job_id, jobs.running_run_id == run.id)
                .values(**job_values)
            )
        return True

    def run(self, run_id: str) -> TableRunRecord | None:
        query = sa.select(table_job_runs_table).where(table_job_runs_table.c.id == run_id)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _run(row) if row else None

    def runs(self, job_id: str, limit: int = 50) -> list[TableRunRecord]:
        """A job's runs, newest first."""
        runs = table_job_runs_table.c
        query = (
            sa.select(table_job_runs_table)
            .where(runs.job_id == job_id)
            .order_by(runs.started_at.desc(), runs.slot_at.desc())
            .limit(limit)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_run(row) for row in connection.execute(query).mappings()]

    def last_runs(self, job_ids: Iterable[str]) -> dict[str, TableRunRecord]:
        """Each job's latest run, for the list's "last run" column."""
        job_ids = list(job_ids)
        if not job_ids:
            return {}
        runs = table_job_runs_table.c
        latest = (
            sa.select(runs.job_id, sa.func.max(runs.started_at).label("started_at"))
            .where(runs.job_id.in_(job_ids))
            .group_by(runs.job_id)
            .subquery()
        )
        query = (
            sa.select(table_job_runs_table)
            .join(
                latest,
                sa.and_(runs.job_id == latest.c.job_id, runs.started_at == latest.c.started_at),
            )
            .order_by(runs.slot_at)
        )
        with self._read_lock, self._engine.connect() as connection:
            return {row["job_id"]: _run(row) for row in connection.execute(query).mappings()}

    def stale_runs(self, before: str) -> list[TableRunRecord]:
        """Runs under way whose heartbeat is older than `before`: their replica stopped."""
        runs = table_job_runs_table.c
        query = sa.select(table_job_runs_table).where(
            runs.status == RUNNING, runs.heartbeat_at < before
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_run(row) for row in connection.execute(query).mappings()]


def _job(row) -> TableJobRecord:
    values = {column.name: row[column.name] for column in table_jobs_table.c}
    values["content_columns"] = list(values["content_columns"] or [])
    values["row_id_columns"] = list(values["row_id_columns"] or [])
    return TableJobRecord(**values)


def _run(row) -> TableRunRecord:
    return TableRunRecord(**{column.name: row[column.name] for column in table_job_runs_table.c})
