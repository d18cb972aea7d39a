"""What an ingestion job is to its readers (seed 002's job body), and how a Document is kept in
the store between staging and sending (JSON, read back to the same Document and hash)."""

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from kbsync_core.ingestion.documents import Document
from kbsync_core.store.ingestion import FINAL_JOB_STATUSES, IngestionJobRecord, RecordResult

# How Documents go into Bedrock, by the data source's type (GetDataSource's
# dataSourceConfiguration.type): the document API for CUSTOM, the bucket and a sync for S3.
CUSTOM = "CUSTOM"
S3 = "S3"
DATA_SOURCE_TYPES = (CUSTOM, S3)
# The original payload is compressed in pieces of about this many characters.
COMPRESS_CHUNK_CHARACTERS = 256 * 1024
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class IngestionTarget:
    """Where a job's documents go and with whose identity: a connection's, or (a knowledge base
    named by id) the server's own. `data_source_type` is CUSTOM or S3."""

    region: str
    knowledge_base_id: str
    data_source_id: str
    data_source_type: str
    connection_id: str | None = None


def document_json(document: Document) -> str:
    return json.dumps(
        {
            "id": document.id,
            "content": document.content,
            "title": document.title,
            "contentType": document.content_type,
            "metadata": {
                key: list(value) if isinstance(value, tuple) else value
                for key, value in document.metadata.items()
            },
            "url": document.url,
            "tags": list(document.tags),
            "deleted": document.deleted,
            "problems": list(document.problems),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def document_from_json(text: str) -> Document:
    body = json.loads(text)
    return Document(
        id=body["id"],
        content=body["content"],
        title=body["title"],
        content_type=body["contentType"],
        metadata={
            key: tuple(value) if isinstance(value, list) else value
            for key, value in body["metadata"].items()
        },
        url=body["url"],
        tags=tuple(body["tags"]),
        deleted=body["deleted"],
        problems=tuple(body["problems"]),
    )


def compressed_payload(data) -> bytes:
    """The original payload as compact JSON, zlib-compressed as it is encoded, a record at a
    time: a 30 MB payload is never held twice as text."""
    compressor = zlib.compressobj(6)
    chunks = []
    pending: list[str] = []
    size = 0
    for piece in _json_pieces(data, depth=2):
        pending.append(piece)
        size += len(piece)
        if size >= COMPRESS_CHUNK_CHARACTERS:
            chunks.append(compressor.compress("".join(pending).encode()))
            pending, size = [], 0
    chunks.append(compressor.compress("".join(pending).encode()))
    chunks.append(compressor.flush())
    return b"".join(chunks)


def _json_pieces(value, depth: int) -> Iterator[str]:
    """`value` as compact JSON, in pieces: containers down to `depth` opened up, what is below
    encoded whole by json's C encoder (a record each, in both adapters' formats)."""
    if depth == 0 or not isinstance(value, dict | list):
        yield _ENCODER.encode(value)
        return
    if isinstance(value, dict):
        yield "{"
        for n, (key, item) in enumerate(value.items()):
            yield ("," if n else "") + _ENCODER.encode(str(key)) + ":"
            yield from _json_pieces(item, depth - 1)
        yield "}"
        return
    yield "["
    for n, item in enumerate(value):
        if n:
            yield ","
        yield from _json_pieces(item, depth - 1)
    yield "]"


def payload_from(compressed: bytes | None):
    return None if compressed is None else json.loads(zlib.decompress(compressed))


def result_body(result: RecordResult) -> dict:
    """One of seed 002's `results`: sourceId, status (success, failed, skipped), entryId (the
    document's identifier in Bedrock) and error; `problems` lists what of the record's metadata
    did not fit Bedrock's limits and was left out."""
    body = {
        "sourceId": result.source_id,
        "status": result.status,
        "entryId": result.entry_id,
        "error": result.error,
    }
    problems = json.loads(result.document).get("problems") or []
    if problems:
        body["problems"] = problems
    return body


def iter_result_bodies(results: list[RecordResult]) -> Iterator[dict]:
    return (result_body(result) for result in results)


def job_body(
    job: IngestionJobRecord,
    results: list[RecordResult] | None = None,
    payload: object = None,
    *,
    include_payload: bool = False,
) -> dict:
    """Seed 002's job: id, status, data {adapterId, adapterType, recordCount, progress, results},
    result {entriesCreated, entriesSkipped, entriesDeleted, embeddingsGenerated: null (Bedrock
    does not report it)}, started_at, completed_at; plus kbsync's: where it went, created_at,
    force, and error (also as result.error, where the seed's example reads it)."""
    data = {
        "adapterId": job.adapter,
        "adapterType": job.adapter,
        "recordCount": job.record_count,
        "progress": progress_of(job),
        "results": [] if results is None else list(iter_result_bodies(results)),
    }
    if include_payload:
        data["payload"] = payload
    return {
        "id": job.id,
        "status": job.status,
        "data": data,
        "result": {
            "entriesCreated": job.entries_created,
            "entriesSkipped": job.skipped,
            "entriesDeleted": job.entries_deleted,
            "embeddingsGenerated": None,
            "error": job.error,
        },
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "knowledgeBaseId": job.target.knowledge_base_id,
        "dataSourceId": job.target.data_source_id,
        "region": job.target.region,
        "dataSourceType": job.data_source_type,
        "connectionId": job.connection_id,
        "force": job.force,
        "syncExecutionId": job.sync_execution_id,
    }


def progress_of(job: IngestionJobRecord) -> dict:
    return {
        "processed": job.processed,
        "total": job.record_count,
        "successful": job.successful,
        "failed": job.failed,
        "skipped": job.skipped,
    }


def is_final(job: IngestionJobRecord) -> bool:
    return job.status in FINAL_JOB_STATUSES
