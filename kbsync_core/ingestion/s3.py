"""Into an S3 data source: each record written to the data source's bucket as `<id>.md` with its
`<id>.md.metadata.json` sidecar (Bedrock's own format), deleted records' objects removed, then
ONE sync of the data source through the SyncEngine (trigger "ingestion"), and each record's
result read from that sync: a failure reason naming the record's S3 URI fails it, a sync that
FAILED as a whole fails the rest, COMPLETE makes them successful.

Object keys: the data source's first inclusion prefix (none: the bucket's root), then the
document id percent-encoded as UTF-8 with every byte outside `A-Z a-z 0-9 - _ .` written as
`%XX` (so `Page://a/b` is `Page%3A%2F%2Fa%2Fb.md`): stable, one key per id and back, ASCII
only, no `/` to make folders of. An id whose key would pass S3's 1,024 bytes is cut and ends
with `~` and the first 32 hex digits of its SHA-256, still one key per id.

The sync's execution id derives from the job's, so a job taken over while its sync runs finds
that sync instead of starting another. Writing is idempotent (a record written twice is the
same object), so a takeover writes again what it cannot be sure was written.
"""

import contextlib
import hashlib
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from kbsync_core import events
from kbsync_core.aws import aws_errors_explained
from kbsync_core.errors import KbsyncError
from kbsync_core.ingestion.metadata import sidecar_body
from kbsync_core.ingestion.model import document_from_json
from kbsync_core.ingestion.runner import Cancelled, JobRun
from kbsync_core.models import TRIGGER_INGESTION, ExecutionStatus
from kbsync_core.s3_source import METADATA_SUFFIX, location_of
from kbsync_core.store.ingestion import (
    ACTION_DELETE,
    BATCHED,
    QUEUED,
    RECORD_FAILED,
    SENT,
    SUCCESS,
    Outcome,
    StagedRecord,
)
from kbsync_core.validation import SyncRequest

DOCUMENT_SUFFIX = ".md"
MAX_KEY_BYTES = 1024
SAFE_KEY_CHARACTERS = "-_."
# Records written per round (each round renews the lease and is recorded).
WRITE_CHUNK = 200
WRITE_THREADS = 8
# Where a sync's failure reasons name a document: s3://bucket/key
S3_URI = re.compile(r"s3://([^/\s]+)/(\S+)")
SYNC_NAMESPACE = uuid.UUID("4f1d1a2e-5b0c-4c5e-9a43-6b7362796e63")


class S3SourceError(RuntimeError):
    """The data source is not one kbsync can write to (GetDataSource says no S3 bucket)."""


def object_key(prefix: str, document_id: str) -> str:
    """The document's key (see the module's docstring)."""
    name = quote(document_id, safe=SAFE_KEY_CHARACTERS)
    room = MAX_KEY_BYTES - len(prefix.encode()) - len(DOCUMENT_SUFFIX + METADATA_SUFFIX)
    if len(name) > room:
        digest = hashlib.sha256(document_id.encode()).hexdigest()[:32]
        cut = name[: room - len(digest) - 1]
        if "%" in cut[-2:]:  # not half an escape
            cut = cut[: cut.rindex("%")]
        name = f"{cut}~{digest}"
    return f"{prefix}{name}{DOCUMENT_SUFFIX}"


def sync_execution_id(job_id: str, attempt: int = 0) -> str:
    """The execution of the job's sync (its `attempt`-th, after another sync of the data
    source refused it): derived, so a takeover finds it and a retry starts no second job."""
    return str(uuid.uuid5(SYNC_NAMESPACE, job_id if attempt == 0 else f"{job_id}#{attempt}"))


def keys_named(reason: str) -> set[str]:
    """The object keys a sync's failure reason names (a sidecar's stands for its document)."""
    keys = set()
    for _bucket, key in S3_URI.findall(reason):
        key = key.rstrip(".,;:)]'\"")
        keys.add(key.removesuffix(METADATA_SUFFIX))
    return keys


def refused_by_another_sync(execution) -> bool:
    """Whether StartIngestionJob refused the sync because another ran on the data source: it
    ended with no job, on AWS's ConflictException. Not only when the running job was named:
    a job that ended between the refusal and the look-up leaves none to name."""
    if execution.status is not ExecutionStatus.FALLIDO or execution.job_id:
        return False
    return bool(execution.conflict_job_id) or any(
        event.event == events.AWS_ERROR and event.values.get("code") == "ConflictException"
        for event in execution.events
    )


class S3Delivery:
    def __init__(self, run: JobRun, engine):
        self.run = run
        self.store = run.store
        self.engine = engine

    def deliver(self) -> None:
        job_id = self.run.job.id
        if self.store.count_in(job_id, [QUEUED, BATCHED, SENT]) == 0:
            return  # everything was skipped: no sync for nothing
        bucket, prefix = self._location()
        while True:
            records = self.store.records(job_id, [QUEUED, BATCHED], limit=WRITE_CHUNK)
            if not records:
                break
            self.run.step()
            self._write(bucket, prefix, records)
            self.store.mark_sent(
                self.run.lease,
                [r.position for r in records],
                [],
                self.run.target,
                self.run.now(),
            )
        execution = self._sync()
        self._record_results(bucket, prefix, execution)

    def _location(self) -> tuple[str, str]:
        target = self.run.target
        self.run.step()
        with aws_errors_explained(self.run.credentials):
            data_source = self.run.bedrock().get_data_source(
                knowledgeBaseId=target.knowledge_base_id, dataSourceId=target.data_source_id
            )["dataSource"]
        location = location_of(data_source)
        if location is None:
            raise S3SourceError(f"Data source {target.data_source_id} has no S3 bucket.")
        return location.bucket, (location.prefixes[0] if location.prefixes else "")

    def _write(self, bucket: str, prefix: str, records: list[StagedRecord]) -> None:
        s3 = self.run.s3()

        def write(record: StagedRecord) -> None:
            key = object_key(prefix, record.source_id)
            if record.action == ACTION_DELETE:
                s3.delete_objects(
                    Bucket=bucket,
                    Delete={
                        "Objects": [{"Key": key}, {"Key": key + METADATA_SUFFIX}],
                        "Quiet": True,
                    },
                )
                return
            document = document_from_json(record.document)
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=document.content.encode(),
                ContentType="text/markdown; charset=utf-8",
            )
            s3.put_object(
                Bucket=bucket,
                Key=key + METADATA_SUFFIX,
                Body=json.dumps(sidecar_body(document), ensure_ascii=False).encode(),
                ContentType="application/json",
            )

        with aws_errors_explained(self.run.credentials), ThreadPoolExecutor(WRITE_THREADS) as pool:
            list(pool.map(write, records))

    def _sync(self):
        """Sync the data source once everything is written, and wait for its end. A sync of
        the data source already running (another job's, an operator's) refuses ours: the
        objects are written, so wait for it and sync again (a sync that started before the
        writes may have missed some). A cancel stops our sync, waits for it to stop, then
        cancels the job."""
        attempt = 0
        execution_id = self.run.job.sync_execution_id or sync_execution_id(self.run.job.id)
        while True:
            execution = self._wait_for_end(self._started(execution_id))
            if not refused_by_another_sync(execution):
                return execution
            # Ask again every two polls (a cancel meanwhile ends the job here).
            self.run.pause(2 * self.run.settings.poll_seconds)
            attempt += 1
            execution_id = sync_execution_id(self.run.job.id, attempt)

    def _started(self, execution_id: str):
        """The sync with this id: started now, or found (a takeover, or a retry's)."""
        execution = self.engine.get(execution_id)
        if execution is not None:
            return execution
        self.run.step()
        self.store.set_sync_execution(self.run.lease, execution_id)
        request = SyncRequest(
            self.run.target,
            self.run.credentials,
            f"Ingestion job {self.run.job.id}",
            connection_id=self.run.job.connection_id,
            trigger=TRIGGER_INGESTION,
        )
        return self.engine.start_sync(request, execution_id=execution_id)

    def _wait_for_end(self, execution):
        cancelled = False
        while not execution.status.is_final:
            try:
                self.run.pause(self.run.settings.poll_seconds, honour_cancel=not cancelled)
            except Cancelled:
                cancelled = True
                # One that ended meanwhile refuses: the loop reads how it ended.
                with contextlib.suppress(KbsyncError):
                    self.engine.stop_sync(execution.id, self.run.credentials)
            execution = self.engine.get(execution.id)
        if cancelled or execution.status is ExecutionStatus.DETENIDO:
            raise Cancelled
        return execution

    def _record_results(self, bucket: str, prefix: str, execution) -> None:
        """Each written record's result from the sync that ingested it."""
        failed_keys: dict[str, str] = {}
        for reason in execution.failure_reasons:
            for key in keys_named(reason):
                failed_keys.setdefault(key, reason)
        whole_failure = None
        if execution.status is not ExecutionStatus.COMPLETADO:
            reasons = "; ".join(execution.failure_reasons) or "no reason given"
            whole_failure = (
                f"The sync {execution.job_id or execution.id} of the data source ended "
                f"{execution.aws_status or execution.status}: {reasons}"
            )
        job_id = self.run.job.id
        after = -1
        while True:
            records = self.store.records(job_id, [SENT], limit=WRITE_CHUNK, after=after)
            if not records:
                return
            after = records[-1].position
            outcomes = []
            for record in records:
                key = object_key(prefix, record.source_id)
                deleting = record.action == ACTION_DELETE
                if key in failed_keys:
                    outcomes.append(
                        Outcome(
                            record.position,
                            RECORD_FAILED,
                            record.source_id,
                            entry_id=f"s3://{bucket}/{key}",
                            error=failed_keys[key],
                        )
                    )
                elif whole_failure is not None:
                    outcomes.append(
                        Outcome(
                            record.position,
                            RECORD_FAILED,
                            record.source_id,
                            entry_id=f"s3://{bucket}/{key}",
                            error=whole_failure,
                        )
                    )
                else:
                    outcomes.append(
                        Outcome(
                            record.position,
                            SUCCESS,
                            record.source_id,
                            entry_id=f"s3://{bucket}/{key}",
                            content_hash=None if deleting else record.content_hash,
                            forget=deleting,
                            deleted=deleting,
                        )
                    )
            self.run.step()
            self.store.finish_records(self.run.lease, outcomes, self.run.target, self.run.now())
