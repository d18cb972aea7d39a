"""Into a CUSTOM data source: IngestKnowledgeBaseDocuments and DeleteKnowledgeBaseDocuments in
batches, then GetKnowledgeBaseDocuments until each document has a final status.

Batches hold at most 10 documents and stay under 6 MB per request (Bedrock's limits). Each
batch's composition is stored before it is sent and its clientToken derives from (job id,
batch number): a retry after a lost answer, or the replica that takes the job over, sends the
same batch with the same token, and Bedrock answers as it did the first time instead of
ingesting twice. Throttling and other transient errors are retried with backoff, within the
account's quota of each operation (the runner's limiter). Statuses are asked for in groups of
10 identifiers as batches go out, each document first a poll interval after it was sent, so
progress moves from the first batch on.
"""

import json
import logging
import time
from collections.abc import Iterator

import botocore.exceptions

from kbsync_core.aws import aws_error_code, describe_aws_error, is_transient
from kbsync_core.ingestion.documents import Document
from kbsync_core.ingestion.metadata import inline_attributes
from kbsync_core.ingestion.model import document_from_json
from kbsync_core.ingestion.runner import JobRun
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

logger = logging.getLogger(__name__)

MAX_DOCUMENTS_PER_CALL = 10  # botocore's model: documents and documentIdentifiers, max 10
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Bedrock's payload limit per request
# What a request carries besides its documents (ids, token, JSON punctuation), kept spare.
REQUEST_OVERHEAD_BYTES = 4 * 1024
# Queued records read from the store at a time.
READ_CHUNK = 200
BACKOFF_START_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# A document still not final after this many status checks is given up as failed (Bedrock
# said nothing final for many minutes at the real poll interval).
MAX_STATUS_CHECKS = 200

INDEXED_STATUSES = frozenset({"INDEXED", "PARTIALLY_INDEXED", "METADATA_PARTIALLY_INDEXED"})
REFUSED_STATUSES = frozenset({"FAILED", "METADATA_UPDATE_FAILED", "IGNORED", "NOT_FOUND"})
WAITING_STATUSES = frozenset(
    {"PENDING", "STARTING", "IN_PROGRESS", "DELETING", "DELETE_IN_PROGRESS"}
)
# The weight of each document's time to a final status in the moving average of them.
SETTLE_WEIGHT = 0.1
CLIENT_TOKEN_PREFIX = "kbsync-"  # noqa: S105 - an idempotency token, not a secret


def batch_token(job_id: str, batch: int) -> str:
    """The batch's clientToken (33 to 256 letters, digits and hyphens, as botocore's model)."""
    return f"{CLIENT_TOKEN_PREFIX}{job_id}-batch-{batch}"


def identifier(document_id: str) -> dict:
    return {"dataSourceType": "CUSTOM", "custom": {"id": document_id}}


def document_request(document: Document) -> dict:
    """One KnowledgeBaseDocument: inline text content, inline attributes."""
    body = {
        "content": {
            "dataSourceType": "CUSTOM",
            "custom": {
                "customDocumentIdentifier": {"id": document.id},
                "sourceType": "IN_LINE",
                "inlineContent": {"type": "TEXT", "textContent": {"data": document.content}},
            },
        }
    }
    attributes = inline_attributes(document)
    if attributes:
        body["metadata"] = {"type": "IN_LINE_ATTRIBUTE", "inlineAttributes": attributes}
    return body


def request_bytes(body: dict) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


class CustomDelivery:
    """Sends a job's queued records and waits for their final statuses; resumable."""

    def __init__(self, run: JobRun):
        self.run = run
        self.store = run.store
        # Sent records awaiting a final status: position -> (when to ask next, checks, record).
        self._awaiting: dict[int, tuple[float, int, StagedRecord]] = {}
        # How long Bedrock has been taking from a batch to its documents' final statuses (a
        # moving average of what the checks saw): a batch's first check waits that long, so
        # most documents are final at their first check and a status costs one call per 10.
        self._settle_seconds = run.settings.poll_seconds
        self._sent_at: dict[int, float] = {}

    def deliver(self) -> None:
        job_id = self.run.job.id
        # A job taken over: what was sent is asked about at once; a batch composed but perhaps
        # never answered is sent again, same token.
        for record in self.store.records(job_id, [SENT]):
            self._awaiting[record.position] = (0.0, 0, record)
        batched = self.store.records(job_id, [BATCHED])
        for batch in sorted({record.batch for record in batched}):
            self._send(batch, [record for record in batched if record.batch == batch])
        last_batch = self.store.last_batch(job_id)
        while True:
            queued = self.store.records(job_id, [QUEUED], limit=READ_CHUNK)
            if not queued:
                break
            for batch_records in self._compose(queued):
                last_batch += 1
                self.run.step()
                self.store.compose_batch(
                    self.run.lease, [record.position for record in batch_records], last_batch
                )
                self._send(last_batch, batch_records)
                self._check_due()
        while self._awaiting:
            self._check_due(wait=True)

    # -- batches -----------------------------------------------------------------------------

    def _compose(self, records: list[StagedRecord]) -> Iterator[list[StagedRecord]]:
        """Batches of one action, at most 10 documents and under 6 MB each; a document too big
        for any request fails here, with no call."""
        batch: list[StagedRecord] = []
        size = REQUEST_OVERHEAD_BYTES
        action = None
        too_big: list[Outcome] = []
        for record in records:
            record_size = (
                0
                if record.action == ACTION_DELETE
                else request_bytes(document_request(document_from_json(record.document)))
            )
            if record_size + REQUEST_OVERHEAD_BYTES >= MAX_REQUEST_BYTES:
                too_big.append(
                    Outcome(
                        record.position,
                        RECORD_FAILED,
                        record.source_id,
                        error=(
                            f"The document is {record_size / 1024 / 1024:.1f} MB as a request: "
                            "over Bedrock's 6 MB per IngestKnowledgeBaseDocuments request."
                        ),
                    )
                )
                continue
            full = len(batch) == MAX_DOCUMENTS_PER_CALL or size + record_size >= MAX_REQUEST_BYTES
            if batch and (full or record.action != action):
                yield batch
                batch, size = [], REQUEST_OVERHEAD_BYTES
            batch.append(record)
            size += record_size
            action = record.action
        if too_big:
            self.run.step()
            self.store.finish_records(self.run.lease, too_big, self.run.target, self.run.now())
        if batch:
            yield batch

    def _send(self, batch: int, records: list[StagedRecord]) -> None:
        target = self.run.target
        common = {
            "knowledgeBaseId": target.knowledge_base_id,
            "dataSourceId": target.data_source_id,
            "clientToken": batch_token(self.run.job.id, batch),
        }
        deleting = records[0].action == ACTION_DELETE
        try:
            if deleting:
                answer = self._call(
                    "delete_knowledge_base_documents",
                    documentIdentifiers=[identifier(record.source_id) for record in records],
                    **common,
                )
            else:
                answer = self._call(
                    "ingest_knowledge_base_documents",
                    documents=[
                        document_request(document_from_json(record.document)) for record in records
                    ],
                    **common,
                )
        except (botocore.exceptions.ClientError, botocore.exceptions.ParamValidationError) as error:
            if aws_error_code(error) not in ("ValidationException", "ParamValidationError"):
                raise
            # Bedrock refused this batch's content (not the job's target or identity): its
            # records fail with Bedrock's words, the others go on.
            reason = describe_aws_error(error, self.run.credentials)
            self.store.finish_records(
                self.run.lease,
                [Outcome(r.position, RECORD_FAILED, r.source_id, error=reason) for r in records],
                target,
                self.run.now(),
            )
            return
        details = _details_by_id(answer)
        sent_at = time.monotonic()
        due = sent_at + max(self.run.settings.poll_seconds, self._settle_seconds)
        done: list[Outcome] = []
        waiting: list[int] = []
        for record in records:
            detail = details.get(record.source_id) or {}
            outcome = _outcome(record, detail, sent=True)
            if outcome is None:
                self._awaiting[record.position] = (due, 0, record)
                self._sent_at[record.position] = sent_at
                waiting.append(record.position)
            else:
                done.append(outcome)
        self.store.mark_sent(self.run.lease, waiting, done, target, self.run.now())

    # -- statuses ----------------------------------------------------------------------------

    def _check_due(self, wait: bool = False) -> None:
        """Ask for the statuses of up to 10 documents whose time has come; with `wait`, wait
        for the first one's time when none has come yet."""
        now = time.monotonic()
        due = [
            position for position, (at, _checks, _record) in self._awaiting.items() if at <= now
        ][:MAX_DOCUMENTS_PER_CALL]
        if not due:
            if wait and self._awaiting:
                earliest = min(at for at, _checks, _record in self._awaiting.values())
                self.run.pause(earliest - now)
            return
        target = self.run.target
        records = [self._awaiting[position][2] for position in due]
        answer = self._call(
            "get_knowledge_base_documents",
            knowledgeBaseId=target.knowledge_base_id,
            dataSourceId=target.data_source_id,
            documentIdentifiers=[identifier(record.source_id) for record in records],
        )
        details = _details_by_id(answer)
        next_time = time.monotonic() + self.run.settings.poll_seconds
        outcomes = []
        for record in records:
            _at, checks, _record = self._awaiting[record.position]
            detail = details.get(record.source_id) or {"status": "NOT_FOUND"}
            outcome = _outcome(record, detail, sent=False)
            if outcome is None and checks + 1 >= MAX_STATUS_CHECKS:
                outcome = Outcome(
                    record.position,
                    RECORD_FAILED,
                    record.source_id,
                    aws_status=detail.get("status"),
                    error=f"Bedrock gave no final status after {checks + 1} checks.",
                )
            if outcome is None:
                self._awaiting[record.position] = (next_time, checks + 1, record)
            else:
                del self._awaiting[record.position]
                outcomes.append(outcome)
                self._learn(self._sent_at.pop(record.position, None))
        if outcomes:
            self.store.finish_records(self.run.lease, outcomes, target, self.run.now())

    def _learn(self, sent_at: float | None) -> None:
        if sent_at is None:  # sent before a takeover: its time is not known here
            return
        seen = time.monotonic() - sent_at
        self._settle_seconds = SETTLE_WEIGHT * seen + (1 - SETTLE_WEIGHT) * self._settle_seconds

    # -- calls -------------------------------------------------------------------------------

    def _call(self, operation: str, **parameters) -> dict:
        """One document operation within the quota; throttling and transient failures retried
        with backoff (a batch with its same clientToken)."""
        # From the poll interval when it is shorter (a sped-up sandbox), as the sync's retries.
        wait = min(BACKOFF_START_SECONDS, self.run.settings.poll_seconds)
        while True:
            self.run.throttle(operation)
            try:
                return getattr(self.run.bedrock(), operation)(**parameters)
            except Exception as error:
                if not is_transient(error):
                    raise
                logger.info(
                    "Ingestion job %s: %s retried after %s",
                    self.run.job.id,
                    operation,
                    aws_error_code(error),
                )
            self.run.pause(wait)
            wait = min(wait * 2, BACKOFF_MAX_SECONDS)


def _details_by_id(answer: dict) -> dict[str, dict]:
    details = {}
    for detail in answer.get("documentDetails") or ():
        custom = (detail.get("identifier") or {}).get("custom") or {}
        if "id" in custom:
            details[custom["id"]] = detail
    return details


def _outcome(record: StagedRecord, detail: dict, *, sent: bool) -> Outcome | None:
    """The record's result from Bedrock's status of its document; None while it is not final.
    Right after a call (`sent`) a document Bedrock does not show yet is awaited, not failed."""
    status = detail.get("status")
    reason = detail.get("statusReason")
    deleting = record.action == ACTION_DELETE
    if status is None or status in WAITING_STATUSES:
        return None
    if deleting:
        if status == "NOT_FOUND":
            return Outcome(
                record.position,
                SUCCESS,
                record.source_id,
                entry_id=record.source_id,
                aws_status=status,
                forget=True,
                deleted=True,
            )
        if status in ("FAILED",):
            return Outcome(
                record.position,
                RECORD_FAILED,
                record.source_id,
                entry_id=record.source_id,
                aws_status=status,
                error=reason or "Bedrock could not delete the document.",
            )
        return None  # still shown as it was: the deletion has not reached it yet
    if status in INDEXED_STATUSES:
        return Outcome(
            record.position,
            SUCCESS,
            record.source_id,
            entry_id=record.source_id,
            aws_status=status,
            content_hash=record.content_hash,
            error=reason if status != "INDEXED" else None,
        )
    if status == "NOT_FOUND" and sent:
        return None
    if status in REFUSED_STATUSES:
        return Outcome(
            record.position,
            RECORD_FAILED,
            record.source_id,
            entry_id=record.source_id,
            aws_status=status,
            error=reason or f"Bedrock answered {status}.",
        )
    return None
