"""Table jobs (seed 004): made, read, paused, resumed, run now and deleted; what the API and the
console call. And the thread that fires their slots.

    jobs = kbsync.table_jobs
    job = jobs.create({"job_name": "sync_orders", "source_table": "orders_db.orders", ...})
    jobs.body(job.id)              # the seed's `data` fields, the job's settings and its runs
    jobs.run_now(job.id)           # TableJobBusyError while a run is under way
    jobs.pause(job.id); jobs.resume(job.id); jobs.delete(job.id)

A job fires at start_time + k × interval (seed 004's grammar, kbsync_core/schedule_spec.py),
within start_time..end_time, exactly once per slot across replicas: each tick reads the jobs
whose next slot is due (one indexed query), claims the slot with a UNIQUE (job, slot) run row,
moves the next slot on, and runs it in a thread of its own (runner.py). Slots missed while
every replica was down make one run, not a burst. A slot that meets a run under way is
recorded `skipped`. After end_time a job is `finished`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kbsync_core.aws import AwsClients, aws_errors_explained
from kbsync_core.errors import (
    AwsRequestError,
    ConnectionNotFoundError,
    IngestionInvalidError,
    IngestionTargetNotFoundError,
    SourceError,
    TableJobBusyError,
    TableJobNotFoundError,
)
from kbsync_core.ingestion.jobs import IngestionJobs, ResolvedTarget
from kbsync_core.schedule_spec import ScheduleSpec, parse_schedule
from kbsync_core.store.table_jobs import (
    RUNNING,
    TRIGGER_MANUAL,
    TRIGGER_SCHEDULE,
    TableJobRecord,
    TableJobStore,
    TableRunRecord,
)
from kbsync_core.tables.rows import Watermark
from kbsync_core.tables.runner import STALE_AFTER_SECONDS, TableRun
from kbsync_core.tables.sample import add_orders
from kbsync_core.tables.sources import Column, Sources, parse_source_table
from kbsync_core.tables.validation import (
    DUPLICATE_JOB,
    INVALID_KB,
    INVALID_REQUEST,
    INVALID_TABLE,
    MAX_ACTIVE_JOBS,
    TableJobProblem,
    invalid,
    read_request,
)
from kbsync_core.ticker import CLOSE_JOIN_SECONDS, Ticker
from kbsync_core.timefmt import iso_utc, parse_iso, utc_now

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
RUNS_SHOWN = 20

# A job's statuses (seed 004's).
SCHEDULED = "scheduled"
PAUSED = "paused"
FINISHED = "finished"


def job_status(record: TableJobRecord, now: datetime) -> str:
    if now >= parse_iso(record.end_at) or (not record.paused and record.next_slot_at is None):
        return FINISHED
    return PAUSED if record.paused else SCHEDULED


def spec_of(record: TableJobRecord) -> ScheduleSpec:
    """A stored job's slots: start + k × interval, in UTC, within its window."""
    return parse_schedule(
        record.interval,
        "UTC",
        record.start_at,
        record.end_at,
        anchor=parse_iso(record.start_at),
    )


def run_dict(run: TableRunRecord) -> dict:
    return {
        "run_id": run.id,
        "trigger": run.trigger,
        "slot": run.slot_at,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "rows_read": run.rows_read,
        "rows_sent": run.rows_sent,
        "rows_skipped": run.rows_skipped,
        "rows_failed": run.rows_failed,
        "error": run.error,
        "ingestion_job_id": run.ingestion_job_id,
    }


def first_run(spec, start: datetime, now: datetime) -> str | None:
    """A new job's first slot: its start_time when that is ahead; when the window has already
    begun (a start_time of "now" is a moment past once the request arrives), its latest slot
    so far, due at once, rather than a whole interval later: the job loads the table when it is
    made, then every interval (as Airflow runs a new DAG's latest interval without catch-up)."""
    if start > now:
        return iso_utc(start)
    latest, _count = spec.due_slots(start, now)
    slot = latest or spec.next_slot(now - timedelta(microseconds=1))
    return iso_utc(slot) if slot else None


class TableJobs:
    """The table jobs of one store, and the thread that fires them (start(), close())."""

    def __init__(
        self,
        store: TableJobStore,
        sources: Sources,
        ingestion: IngestionJobs,
        clients: AwsClients,
        owner_id: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        tick_seconds: float = TICK_SECONDS,
        sample_file: Path | None = None,
    ):
        self._store = store
        self.sources = sources
        self._ingestion = ingestion
        self._clients = clients
        self._owner_id = owner_id
        self._clock = clock
        self.sample_file = sample_file
        self._ticker = Ticker("kbsync-table-jobs", self.tick, tick_seconds)
        self._closing = self._ticker.closing
        self._runs: dict[str, threading.Thread] = {}
        self._runs_lock = threading.Lock()
        self._create_lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------

    def get(self, job_id: str) -> TableJobRecord:
        record = self._store.get(job_id) if isinstance(job_id, str) else None
        if record is None:
            raise TableJobNotFoundError(f"Job {job_id} not found")
        return record

    def data(self, record: TableJobRecord) -> dict:
        """Seed 004's `data` of a job: job_id, job_name, status, created_at, next_run."""
        status = job_status(record, self._clock())
        return {
            "job_id": record.id,
            "job_name": record.name,
            "status": status,
            "created_at": record.created_at,
            "next_run": record.next_slot_at if status == SCHEDULED else None,
        }

    def body(self, job_id: str, runs: int = RUNS_SHOWN) -> dict:
        """A job as GET /api/jobs/{id} answers it: the seed's `data` fields, the job's settings,
        its watermark, and its runs (newest first)."""
        record = self.get(job_id)
        return {
            **self._summary(record, self._store.last_runs([record.id]).get(record.id)),
            "runs": [run_dict(run) for run in self._store.runs(record.id, runs)],
        }

    def list(self) -> list[dict]:
        """Every job (oldest first) with its last run, for the list."""
        records = self._store.all()
        last = self._store.last_runs(record.id for record in records)
        return [self._summary(record, last.get(record.id)) for record in records]

    def _summary(self, record: TableJobRecord, last: TableRunRecord | None) -> dict:
        watermark = Watermark.from_json(record.watermark)
        return {
            **self.data(record),
            "source_table": record.source_table,
            "kb_name": record.kb_name,
            "knowledge_base_id": record.knowledge_base_id,
            "data_source_id": record.data_source_id,
            "connection_id": record.connection_id,
            "content_columns": list(record.content_columns),
            "filter_column": record.filter_column,
            "primary_key": list(record.row_id_columns),
            "interval": record.interval,
            "start_time": record.start_at,
            "end_time": record.end_at,
            "watermark": watermark.shown() if watermark else None,
            "running": record.running_run_id is not None,
            "last_run": run_dict(last) if last else None,
        }

    def run(self, run_id: str) -> TableRunRecord | None:
        return self._store.run(run_id)

    # -- sources (what the console offers to pick from) ---------------------------------------

    def source_names(self) -> list[str]:
        return self.sources.names()

    def tables(self, source: str) -> list[str]:
        return self.sources.tables(source)

    def columns(self, source_table: str) -> list[Column]:
        table = parse_source_table(source_table)
        if table is None or self.sources.get(table.source) is None:
            raise SourceError(f"There is no source table {source_table!r}.")
        return self.sources.columns(table)

    def add_sample_rows(self, count: int = 3) -> list[int]:
        """Add orders to the sandbox's sample source (the console's button, the API's call);
        SourceError where there is none (on aws)."""
        if self.sample_file is None:
            raise SourceError("There is no sample source here (only on the sandbox).")
        return add_orders(self.sample_file, count)

    # -- creating ----------------------------------------------------------------------------

    def create(self, payload: Any) -> TableJobRecord:
        """Check everything at once (TableJobInvalidError with every problem), then save the
        job, scheduled from its first slot after now."""
        problems: list[TableJobProblem] = []
        request = read_request(payload, problems)
        now = self._clock()
        if request.job_name and self._store.by_name(request.job_name) is not None:
            problems.append(
                TableJobProblem(
                    "job_name", DUPLICATE_JOB, f"a job named {request.job_name!r} already exists"
                )
            )
        key_columns = self._check_table(request, problems)
        resolved = self._check_kb(request.kb_name, problems) if request.kb_name else None
        if (
            request.end is not None
            and request.end <= now
            and not any(p.field == "end_time" for p in problems)
        ):
            problems.append(
                TableJobProblem(
                    "end_time", "INVALID_DATETIME", "end_time is past: the job would never run"
                )
            )
        if self._store.count_active(iso_utc(now)) >= MAX_ACTIVE_JOBS:
            problems.append(
                TableJobProblem(
                    "job_name",
                    INVALID_REQUEST,
                    f"there are already {MAX_ACTIVE_JOBS} active jobs (scheduled or paused), the "
                    "most allowed: delete one first",
                )
            )
        if problems:
            raise invalid(problems)
        target = resolved.target
        created = iso_utc(utc_now())
        record = TableJobRecord(
            id=f"job_{uuid.uuid4().hex}",
            name=request.job_name,
            source_table=str(request.source_table),
            content_columns=request.content_columns,
            filter_column=request.filter_column,
            row_id_columns=key_columns,
            kb_name=request.kb_name,
            connection_id=target.connection_id,
            region=target.region,
            knowledge_base_id=target.knowledge_base_id,
            data_source_id=target.data_source_id,
            interval=request.interval,
            start_at=iso_utc(request.start),
            end_at=iso_utc(request.end),
            paused=False,
            next_slot_at=None,
            watermark=None,
            running_run_id=None,
            created_at=created,
            updated_at=created,
        )
        record = TableJobRecord(
            **{**record.__dict__, "next_slot_at": first_run(spec_of(record), request.start, now)}
        )
        if not self._store.insert(record):  # the same name, saved meanwhile by another caller
            raise invalid(
                [
                    TableJobProblem(
                        "job_name",
                        DUPLICATE_JOB,
                        f"a job named {request.job_name!r} already exists",
                    )
                ]
            )
        return record

    def _check_table(self, request, problems: list[TableJobProblem]) -> list[str]:
        """The source table and its named columns exist; its primary key."""
        table = request.source_table
        if table is None:
            return []
        if self.sources.get(table.source) is None:
            known = ", ".join(self.sources.names()) or "none is configured"
            problems.append(
                TableJobProblem(
                    "source_table",
                    INVALID_TABLE,
                    f"unknown source {table.source!r} (sources: {known})",
                )
            )
            return []
        try:
            columns = {column.name for column in self.sources.columns(table)}
            key_columns = self.sources.primary_key(table)
        except SourceError as error:
            problems.append(TableJobProblem("source_table", INVALID_TABLE, str(error)))
            return []
        for column in request.content_columns or []:
            if column not in columns:
                problems.append(
                    TableJobProblem(
                        "content_columns",
                        INVALID_TABLE,
                        f"column {column!r} does not exist in {table}",
                    )
                )
        if request.filter_column and request.filter_column not in columns:
            problems.append(
                TableJobProblem(
                    "filter_column",
                    INVALID_TABLE,
                    f"filter column {request.filter_column!r} does not exist in {table}",
                )
            )
        return key_columns

    def _check_kb(self, kb_name: str, problems: list[TableJobProblem]) -> ResolvedTarget | None:
        """A connection id, or the name of a knowledge base with exactly one data source that
        accepts documents (CUSTOM or S3)."""
        try:
            if self._is_connection(kb_name):
                return self._ingestion.resolve(kb_name)
            knowledge_base_id = self._knowledge_base_named(kb_name)
            if knowledge_base_id is None:
                problems.append(
                    TableJobProblem(
                        "kb_name",
                        INVALID_KB,
                        f"knowledge base {kb_name!r} does not exist (neither a connection nor a "
                        "knowledge base of that name)",
                    )
                )
                return None
            return self._ingestion.resolve(knowledge_base_id)
        except (IngestionInvalidError, IngestionTargetNotFoundError, AwsRequestError) as error:
            problems.append(TableJobProblem("kb_name", INVALID_KB, f"kb_name {kb_name!r}: {error}"))
            return None

    def _is_connection(self, name: str) -> bool:
        try:
            self._ingestion.connections.get(name)
        except ConnectionNotFoundError:
            return False
        return True

    def _knowledge_base_named(self, name: str) -> str | None:
        """ListKnowledgeBases with the server's identity: the id of the one named `name`."""
        credentials = self._ingestion.server_credentials
        region = self._ingestion.default_region
        if credentials is None or region is None:
            return None
        client = self._clients.bedrock_agent(credentials, region)
        with aws_errors_explained(credentials):
            for page in client.get_paginator("list_knowledge_bases").paginate():
                for summary in page.get("knowledgeBaseSummaries") or []:
                    if summary.get("name") == name:
                        return summary["knowledgeBaseId"]
        return None

    def _resolve(self, record: TableJobRecord) -> ResolvedTarget:
        """The job's target with the credentials that act on it now."""
        if record.connection_id:
            return self._ingestion.resolve(record.connection_id)
        return self._ingestion.resolve(record.knowledge_base_id, record.data_source_id)

    # -- changing ----------------------------------------------------------------------------

    def pause(self, job_id: str) -> TableJobRecord:
        """No slot fires (a run under way ends as it would); none is caught up later."""
        self.get(job_id)
        self._store.set_paused(job_id, True, None, iso_utc(utc_now()))
        return self.get(job_id)

    def resume(self, job_id: str) -> TableJobRecord:
        """From the next slot after now."""
        record = self.get(job_id)
        slot = spec_of(record).next_slot(self._clock())
        self._store.set_paused(job_id, False, iso_utc(slot) if slot else None, iso_utc(utc_now()))
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        """The job and its runs (an ingestion job one made goes on and keeps its history)."""
        self.get(job_id)
        if not self._store.delete(job_id):
            raise TableJobNotFoundError(f"Job {job_id} not found")

    def run_now(self, job_id: str) -> TableRunRecord:
        """Start a run at once, outside the slots; TableJobBusyError while one is under way."""
        record = self.get(job_id)
        if record.running_run_id is not None:
            raise TableJobBusyError(job_id, record.running_run_id)
        run = self._claim(record, iso_utc(self._clock()), TRIGGER_MANUAL, record_skipped=False)
        if run is None or run.status != RUNNING:
            busy = self.get(job_id).running_run_id
            raise TableJobBusyError(job_id, busy)
        self._launch(record, run)
        return run

    def wait(self, run_id: str, timeout: float) -> TableRunRecord | None:
        """Block until this replica's thread of the run ends (or `timeout`); the run."""
        with self._runs_lock:
            thread = self._runs.get(run_id)
        if thread is not None:
            thread.join(timeout)
        return self._store.run(run_id)

    # -- the ticking thread ------------------------------------------------------------------

    def start(self) -> None:
        self._ticker.start()

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Stop ticking and leave the runs under way (another replica, or this one restarted,
        takes them up); idempotent."""
        self._ticker.close(timeout)
        with self._runs_lock:
            threads = list(self._runs.values())
        for thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning(
                    "Table jobs' thread %s did not exit within %.0f s.", thread.name, timeout
                )

    def tick(self) -> int:
        """Fire every due slot, and take up runs whose replica stopped; how many slots ran."""
        if self._closing.is_set():
            return 0
        stale = iso_utc(utc_now() - timedelta(seconds=STALE_AFTER_SECONDS))
        for run in self._store.stale_runs(stale):
            self._guarded(self._take_up, run)
        now = self._clock()
        return sum(
            self._guarded(self._fire_due, record, now) or 0
            for record in self._store.due(iso_utc(now))
        )

    @staticmethod
    def _guarded(step, *args):
        try:
            return step(*args)
        except Exception:
            logger.exception("Table jobs could not handle %r; going on with the rest.", args[0])
            return None

    def _fire_due(self, record: TableJobRecord, now: datetime) -> bool:
        spec = spec_of(record)
        latest, _count = spec.due_slots(parse_iso(record.next_slot_at), now)
        following = spec.next_slot(latest or now)
        run = None
        if latest is not None:
            # Claim first, then move on: a replica dying between the two leaves the slot
            # claimed and the job still due; the next tick moves it on.
            run = self._claim(record, iso_utc(latest), TRIGGER_SCHEDULE, record_skipped=True)
        self._store.advance(
            record.id, record.next_slot_at, iso_utc(following) if following else None
        )
        if run is None or run.status != RUNNING:
            return False
        self._launch(record, run)
        return True

    def _claim(
        self, record: TableJobRecord, slot_at: str, trigger: str, *, record_skipped: bool
    ) -> TableRunRecord | None:
        started = iso_utc(utc_now())
        return self._store.claim_run(
            TableRunRecord(
                id=str(uuid.uuid4()),
                job_id=record.id,
                slot_at=slot_at,
                trigger=trigger,
                status=RUNNING,
                claimed_by=self._owner_id,
                started_at=started,
                heartbeat_at=started,
                finished_at=None,
                ingestion_job_id=None,
                rows_read=0,
                rows_sent=0,
                rows_skipped=0,
                rows_failed=0,
                error=None,
                watermark_before=record.watermark,
                watermark_after=None,
            ),
            record_skipped=record_skipped,
        )

    def _take_up(self, run: TableRunRecord) -> None:
        if self._closing.is_set():
            return
        if not self._store.take_over_run(
            run.id, run.heartbeat_at, iso_utc(utc_now()), self._owner_id
        ):
            return  # another replica took it up first
        record = self._store.get(run.job_id)
        if record is None:
            return
        logger.info("Taking up table job run %s, whose replica stopped", run.id)
        self._launch(record, run)

    def _launch(self, record: TableJobRecord, run: TableRunRecord) -> None:
        work = TableRun(self._store, self.sources, self._ingestion, self._resolve, self._closing)

        def target() -> None:
            try:
                work.execute(record, run)
            finally:
                with self._runs_lock:
                    self._runs.pop(run.id, None)

        thread = threading.Thread(target=target, name=f"kbsync-table-run-{run.id[:8]}", daemon=True)
        with self._runs_lock:
            self._runs[run.id] = thread
        thread.start()
