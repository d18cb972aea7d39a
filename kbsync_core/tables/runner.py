"""One run of a table job: read the increment, hand it to ingestion, wait, and move the
watermark only if every row went in.

1. read the rows after the job's watermark (rows.py), each into a Document, in batches;
2. nothing new: the run ends `skipped`, nothing sent, no ingestion job;
3. otherwise record where the watermark would go (`watermark_after`), then make one ingestion
   job of the Documents (IngestionJobs.create_from_documents: unchanged rows are skipped by
   their hash; its adapter is `table-job:<job id>`, so it says which table job made it);
4. wait for it, renewing the run's heartbeat; its end is the run's: the watermark moves, in
   the transaction that records the run's result, only when it completed with no failed row.
   A failed run keeps the watermark and says why; the next slot reads the same rows again.

A replica that stops mid-run leaves the run `running` with an old heartbeat: another replica's
tick takes it up (`resume`), waiting for its ingestion job (itself taken over as a run of the
ingestion kind) or, when none was made, ending it failed.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from kbsync_core.aws import describe_aws_error, is_aws_error
from kbsync_core.errors import KbsyncError, SourceError
from kbsync_core.ingestion.jobs import IngestionJobs, ResolvedTarget
from kbsync_core.store.ingestion import COMPLETED as INGESTION_COMPLETED
from kbsync_core.store.ingestion import FINAL_JOB_STATUSES
from kbsync_core.store.table_jobs import (
    COMPLETED,
    FAILED,
    SKIPPED,
    TableJobRecord,
    TableJobStore,
    TableRunRecord,
)
from kbsync_core.tables.rows import (
    Watermark,
    increment_query,
    read_rows,
    row_document,
    watermark_of,
)
from kbsync_core.tables.sources import Sources, parse_source_table
from kbsync_core.timefmt import iso_utc, utc_now

logger = logging.getLogger(__name__)

# How often a run under way renews its heartbeat; a run whose heartbeat is older than
# STALE_AFTER_SECONDS lost its replica (real seconds, whatever the scheduler's clock).
HEARTBEAT_SECONDS = 2.0
STALE_AFTER_SECONDS = 30.0
ADAPTER_PREFIX = "table-job:"


def adapter_name(job_id: str) -> str:
    """The ingestion job's adapter: which table job made it."""
    return f"{ADAPTER_PREFIX}{job_id}"


class RunStopped(Exception):
    """The process is closing: the run is left as it is, for a replica to take up."""


class TableRun:
    """The work of one run; `execute()` never raises (its failure is the run's result)."""

    def __init__(
        self,
        store: TableJobStore,
        sources: Sources,
        ingestion: IngestionJobs,
        resolve: Callable[[TableJobRecord], ResolvedTarget],
        closing: threading.Event,
    ):
        self._store = store
        self._sources = sources
        self._ingestion = ingestion
        self._resolve = resolve
        self._closing = closing

    def execute(self, job: TableJobRecord, run: TableRunRecord) -> TableRunRecord | None:
        try:
            if run.ingestion_job_id is not None:
                return self._await(run)  # taken up after its replica stopped
            if run.watermark_after is not None:
                return self._end(
                    run,
                    FAILED,
                    error=(
                        "The replica running it stopped before its rows were sent; the watermark "
                        "did not move, the next run reads them again."
                    ),
                )
            return self._run(job, run)
        except RunStopped:
            logger.info("Table job run %s left on shutdown; another replica takes it up", run.id)
            return None
        except Exception as error:
            if isinstance(error, SourceError | KbsyncError):
                message = str(error)
            elif is_aws_error(error):
                message = describe_aws_error(error, None)
            else:
                logger.exception("Table job run %s failed inside kbsync", run.id)
                message = f"{type(error).__name__}: {error}"
            source = self._sources.get(job.source_table.split(".", 1)[0])
            if source is not None:
                message = source.redact(message)
            return self._end(run, FAILED, error=message)

    # -- the steps ---------------------------------------------------------------------------

    def _run(self, job: TableJobRecord, run: TableRunRecord) -> TableRunRecord:
        resolved = self._resolve(job)
        documents, rows_read, last = self._read(job, run)
        if rows_read == 0:
            return self._end(run, SKIPPED)
        run = replace(run, rows_read=rows_read, watermark_after=last.to_json())
        self._store.record_run(
            run.id,
            rows_read=rows_read,
            watermark_after=run.watermark_after,
            heartbeat_at=iso_utc(utc_now()),
        )
        if self._closing.is_set():
            raise RunStopped
        created = self._ingestion.create_from_documents(
            resolved, documents, adapter_name=adapter_name(job.id)
        )
        run = replace(run, ingestion_job_id=created.id)
        self._store.record_run(run.id, ingestion_job_id=created.id, heartbeat_at=iso_utc(utc_now()))
        return self._await(run)

    def _read(self, job: TableJobRecord, run: TableRunRecord):
        """The increment's Documents, how many rows, and the last row's watermark."""
        table = parse_source_table(job.source_table)
        described = self._sources.columns(table)
        columns = [column.name for column in described]
        booleans = frozenset(c.name for c in described if c.type.upper().startswith("BOOL"))
        missing = [
            name
            for name in [*job.content_columns, job.filter_column, *job.row_id_columns]
            if name not in columns
        ]
        if missing:
            raise SourceError(
                f"{job.source_table} has no column {', '.join(sorted(set(missing)))} any more."
            )
        watermark = Watermark.from_json(run.watermark_before)
        query = increment_query(table, columns, job.filter_column, job.row_id_columns, watermark)
        documents, last, count = [], None, 0
        engine = self._sources.engine(table.source)
        with self._sources.errors_redacted(table.source), engine.connect() as connection:
            for batch in read_rows(connection, query):
                if self._closing.is_set():
                    raise RunStopped
                documents += [
                    row_document(
                        table.table, row, job.content_columns, job.row_id_columns, booleans
                    )
                    for row in batch
                ]
                count += len(batch)
                last = watermark_of(batch[-1], job.filter_column, job.row_id_columns)
            connection.rollback()
        return documents, count, last

    def _await(self, run: TableRunRecord) -> TableRunRecord:
        """Wait for the run's ingestion job to end, renewing the heartbeat; then end the run."""
        while True:
            # wait() follows the job whichever replica works it; between its turns, the
            # heartbeat says this run is still watched.
            job = self._ingestion.wait(run.ingestion_job_id, HEARTBEAT_SECONDS)
            if job.status in FINAL_JOB_STATUSES:
                break
            if self._closing.is_set():
                raise RunStopped
            self._store.record_run(run.id, heartbeat_at=iso_utc(utc_now()))
        counts = {
            "rows_sent": job.sent,
            "rows_skipped": job.skipped,
            "rows_failed": job.failed,
        }
        if job.status == INGESTION_COMPLETED and job.failed == 0:
            return self._end(run, COMPLETED, advance=True, **counts)
        if job.status == INGESTION_COMPLETED:
            error = (
                f"{job.failed} of {job.record_count} rows failed (ingestion job {job.id} says "
                "why): the watermark did not move, the next run reads them again."
            )
            return self._end(run, FAILED, error=error, **counts)
        error = f"Ingestion job {job.id} ended {job.status}: {job.error or 'no reason given'}"
        return self._end(run, job.status, error=error + " The watermark did not move.", **counts)

    def _end(
        self,
        run: TableRunRecord,
        status: str,
        *,
        advance: bool = False,
        error: str | None = None,
        **counts,
    ) -> TableRunRecord:
        ended = replace(run, status=status, finished_at=iso_utc(utc_now()), error=error, **counts)
        if not self._store.finish_run(ended, advance_watermark=advance):
            logger.info("Table job run %s was ended elsewhere", run.id)
        return ended
