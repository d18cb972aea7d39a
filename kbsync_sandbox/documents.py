"""Documents ingested straight into a data source (Bedrock's "direct ingestion").

IngestKnowledgeBaseDocuments, GetKnowledgeBaseDocuments, ListKnowledgeBaseDocuments and
DeleteKnowledgeBaseDocuments act on these. As with ingestion jobs, nothing advances in a
thread: each document carries a schedule in simulated seconds (STARTING, IN_PROGRESS, then
INDEXED or FAILED; DELETE_IN_PROGRESS, then gone) and every read computes where it is now.
What was ingested (content and metadata attributes) is kept, so a test can read it back.

Requests come here already checked against botocore's model (validation.py); what is left is
what the model cannot say: the data source's type, the per-document outcome, idempotency and
the rate of requests.
"""

import base64
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from .clock import SimulatedClock
from .constants import SANDBOX_KNOWLEDGE_BASE_ID
from .errors import ServiceError, validation_error

# Simulated seconds (divided by the speed in real time). Direct ingestion indexes a document
# in seconds, not in the tens of seconds a sync takes.
DOCUMENT_STARTING_SECONDS = 2.0
DOCUMENT_INDEXING_SECONDS = 6.0
DOCUMENT_DELETING_SECONDS = 3.0

# Bedrock's documented quota for one source document ("Each file size doesn't exceed the quota
# of 50 MB", Prerequisites for your Amazon Bedrock knowledge base data). Inline text cannot
# reach it (the model caps it at 5,242,880 characters and a request at 6 MB), S3 objects can.
# A module constant so that a test can lower it.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
# Bedrock's quotas: IngestKnowledgeBaseDocuments' total payload per request, and the requests
# per second of an account for each write operation (a sliding one-second window of the
# simulated clock, so the ceiling scales with the sandbox's speed like everything else).
MAX_REQUEST_BYTES = 6 * 1024 * 1024
REQUESTS_PER_SECOND = {"IngestKnowledgeBaseDocuments": 5, "DeleteKnowledgeBaseDocuments": 5}
RATE_WINDOW_SECONDS = 1.0

GONE = "GONE"  # the phase a deleted document ends in: answered as NOT_FOUND, not listed
FINAL_STATUSES = ("INDEXED", "FAILED", GONE)


@dataclass
class StoredDocument:
    data_source_type: str  # "CUSTOM" or "S3": how its identifier reads
    key: str  # the custom id, or the S3 URI
    content: bytes | None
    text: bool  # the content is text (inline TEXT or an S3 object), not inline bytes
    mime_type: str | None
    attributes: dict[str, object]
    status_reason: str | None
    ingestions: int
    # (status, simulated second it begins), in order; the last one never ends.
    phases: list[tuple[str, float]] = field(default_factory=list)

    def status(self, now: float) -> str:
        return next(status for status, begins in reversed(self.phases) if begins <= now)

    def status_began(self, now: float) -> float:
        return next(begins for status, begins in reversed(self.phases) if begins <= now)

    def identifier(self) -> dict:
        if self.data_source_type == "CUSTOM":
            return {"dataSourceType": "CUSTOM", "custom": {"id": self.key}}
        return {"dataSourceType": "S3", "s3": {"uri": self.key}}

    def as_json(self, now: float) -> dict:
        """What a test reads back: what was ingested and where the document is now."""
        status = self.status(now)
        readable = self.content is not None and self.text
        return {
            "dataSourceType": self.data_source_type,
            "id": self.key,
            "status": "NOT_FOUND" if status == GONE else status,
            "statusReason": self.status_reason,
            "content": self.content.decode("utf-8", "replace") if readable else None,
            "byteContent": (
                base64.b64encode(self.content).decode()
                if self.content is not None and not self.text
                else None
            ),
            "mimeType": self.mime_type,
            "attributes": dict(self.attributes),
            "ingestions": self.ingestions,
        }


@dataclass
class _Outcome:
    """What ingestion will make of one document: its content, or why it fails."""

    content: bytes | None
    text: bool
    mime_type: str | None
    attributes: dict[str, object]
    failure: str | None


class DirectIngestion:
    """The documents of every data source, by data source id, and the write requests' rate."""

    def __init__(self, clock: SimulatedClock, s3):
        self._lock = threading.Lock()
        self._clock = clock
        self._s3 = s3
        # data source id -> (data source type, key) -> document, in first-ingestion order
        self._documents: dict[str, dict[tuple[str, str], StoredDocument]] = {}
        # (data source id, operation, clientToken) -> the answer the first request got
        self._answers: dict[tuple[str, str, str], list[dict]] = {}
        self._admitted: dict[str, deque[float]] = {}

    def admit(self, operation: str) -> None:
        """Count a write request against the account's rate; ThrottlingException past it."""
        limit = REQUESTS_PER_SECOND.get(operation)
        if limit is None:
            return
        with self._lock:
            now = self._clock.now()
            window = self._admitted.setdefault(operation, deque())
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= limit:
                raise ServiceError(
                    "ThrottlingException",
                    f"Rate exceeded: this account may send {limit} {operation} requests per "
                    "second. Slow down and retry with backoff.",
                )
            window.append(now)

    def ingest(
        self, data_source_id: str, source_type: str, documents: list[dict], token: str | None
    ) -> list[dict]:
        """The document details of an IngestKnowledgeBaseDocuments answer."""
        remembered = self._remembered(data_source_id, "Ingest", token)
        if remembered is not None:
            return remembered
        for document in documents:
            _check_content(document["content"], source_type)
        # Read S3 objects before taking the lock: moto answers through the same botocore
        # machinery, and a slow read must not hold every other request up.
        outcomes = [(_key(document["content"]), self._outcome(document)) for document in documents]
        with self._lock:
            # A retry that raced its first attempt here finds the first attempt's answer.
            raced = token is not None and self._answers.get((data_source_id, "Ingest", token))
            if raced:
                return raced
            now = self._clock.now()
            stored = self._documents.setdefault(data_source_id, {})
            details = []
            for (content_type, key), outcome in outcomes:
                earlier = stored.get((content_type, key))
                document = StoredDocument(
                    data_source_type=content_type,
                    key=key,
                    content=outcome.content,
                    text=outcome.text,
                    mime_type=outcome.mime_type,
                    attributes=outcome.attributes,
                    status_reason=outcome.failure,
                    ingestions=(earlier.ingestions if earlier else 0) + 1,
                    phases=[
                        ("STARTING", now),
                        ("IN_PROGRESS", now + DOCUMENT_STARTING_SECONDS),
                        (
                            "FAILED" if outcome.failure else "INDEXED",
                            now + DOCUMENT_STARTING_SECONDS + DOCUMENT_INDEXING_SECONDS,
                        ),
                    ],
                )
                # A re-ingested document replaces the earlier one and keeps its place.
                stored[(content_type, key)] = document
                details.append(self._detail(data_source_id, document, now))
            return self._remember(data_source_id, "Ingest", token, details)

    def details(self, data_source_id: str, source_type: str, identifiers: list[dict]) -> list[dict]:
        """The document details of a GetKnowledgeBaseDocuments answer: NOT_FOUND for a
        document the data source does not have (or no longer has)."""
        keys = [_identifier_key(identifier, source_type) for identifier in identifiers]
        with self._lock:
            now = self._clock.now()
            stored = self._documents.get(data_source_id, {})
            return [self._detail_of(data_source_id, stored, key, now) for key in keys]

    def delete(
        self, data_source_id: str, source_type: str, identifiers: list[dict], token: str | None
    ) -> list[dict]:
        """The document details of a DeleteKnowledgeBaseDocuments answer: DELETE_IN_PROGRESS,
        then the document is gone; NOT_FOUND at once for one the data source does not have."""
        remembered = self._remembered(data_source_id, "Delete", token)
        if remembered is not None:
            return remembered
        keys = [_identifier_key(identifier, source_type) for identifier in identifiers]
        with self._lock:
            now = self._clock.now()
            stored = self._documents.get(data_source_id, {})
            for key in keys:
                document = stored.get(key)
                if document is None or document.status(now) in (GONE, "DELETE_IN_PROGRESS"):
                    continue
                document.phases = [phase for phase in document.phases if phase[1] <= now] + [
                    ("DELETE_IN_PROGRESS", now),
                    (GONE, now + DOCUMENT_DELETING_SECONDS),
                ]
            details = [self._detail_of(data_source_id, stored, key, now) for key in keys]
            return self._remember(data_source_id, "Delete", token, details)

    def listed(self, data_source_id: str) -> list[dict]:
        """Every document the data source has, in the order they were first ingested."""
        with self._lock:
            now = self._clock.now()
            return [
                self._detail(data_source_id, document, now)
                for document in self._documents.get(data_source_id, {}).values()
                if document.status(now) != GONE
            ]

    def stored(self, data_source_id: str) -> list[dict]:
        """What was ingested into the data source, deleted documents included (NOT_FOUND)."""
        with self._lock:
            now = self._clock.now()
            return [
                document.as_json(now)
                for document in self._documents.get(data_source_id, {}).values()
            ]

    def finish(self) -> None:
        """Bring every document to its end state now (INDEXED, FAILED or gone)."""
        with self._lock:
            now = self._clock.now()
            for documents in self._documents.values():
                for document in documents.values():
                    document.phases = [(s, min(begins, now)) for s, begins in document.phases]

    # Internals

    def _remembered(self, data_source_id: str, operation: str, token: str | None):
        """The answer a request with this clientToken got. Bedrock documents that a request
        whose token matches a previous one is ignored without an error, whatever its body."""
        if token is None:
            return None
        with self._lock:
            return self._answers.get((data_source_id, operation, token))

    def _remember(self, data_source_id: str, operation: str, token: str | None, details):
        """Caller holds the lock."""
        if token is not None:
            self._answers[(data_source_id, operation, token)] = details
        return details

    def _detail_of(self, data_source_id: str, stored: dict, key: tuple[str, str], now: float):
        """Caller holds the lock."""
        document = stored.get(key)
        if document is None or document.status(now) == GONE:
            content_type, value = key
            identifier = (
                {"dataSourceType": "CUSTOM", "custom": {"id": value}}
                if content_type == "CUSTOM"
                else {"dataSourceType": "S3", "s3": {"uri": value}}
            )
            return {
                "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
                "dataSourceId": data_source_id,
                "status": "NOT_FOUND",
                "identifier": identifier,
            }
        return self._detail(data_source_id, document, now)

    def _detail(self, data_source_id: str, document: StoredDocument, now: float) -> dict:
        """A KnowledgeBaseDocumentDetail as of `now`. Caller holds the lock."""
        status = document.status(now)
        detail = {
            "knowledgeBaseId": SANDBOX_KNOWLEDGE_BASE_ID,
            "dataSourceId": data_source_id,
            "status": status,
            "identifier": document.identifier(),
            "updatedAt": self._clock.wall_time(document.status_began(now)),
        }
        if status == "FAILED":
            detail["statusReason"] = document.status_reason
        return detail

    def _outcome(self, document: dict) -> _Outcome:
        content = document["content"]
        attributes, failure = self._attributes(document.get("metadata"))
        if content["dataSourceType"] == "S3":
            body, text, mime_type, read_failure = self._s3_object(content["s3"]["s3Location"])
        else:
            custom = content["custom"]
            if custom["sourceType"] == "S3_LOCATION":
                body, text, mime_type, read_failure = self._s3_object(custom["s3Location"])
            elif custom["inlineContent"]["type"] == "TEXT":
                data = custom["inlineContent"]["textContent"]["data"]
                body, text, mime_type, read_failure = data.encode(), True, "text/plain", None
            else:
                byte_content = custom["inlineContent"]["byteContent"]
                body, text = base64.b64decode(byte_content["data"]), False
                mime_type, read_failure = byte_content["mimeType"], None
        failure = read_failure or failure or _content_failure(body, text)
        return _Outcome(body, text, mime_type, attributes, failure)

    def _s3_object(self, location: dict) -> tuple[bytes | None, bool, str | None, str | None]:
        """(content, is text, mime type, failure) of the object at an s3:// URI."""
        uri = location["uri"]
        parts = urlsplit(uri)
        try:
            answer = self._s3.get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
        except ClientError as error:  # NoSuchKey, NoSuchBucket...: the document's failure
            code = error.response.get("Error", {}).get("Code")
            return None, True, None, f"The S3 object {uri} could not be read: {code}."
        return answer["Body"].read(), True, answer.get("ContentType"), None

    def _attributes(self, metadata: dict | None) -> tuple[dict[str, object], str | None]:
        """The metadata attributes (key -> value) and why they cannot be used, if they cannot."""
        if metadata is None:
            return {}, None
        if metadata["type"] == "IN_LINE_ATTRIBUTE":
            return _inline_attributes(metadata.get("inlineAttributes") or []), None
        body, _text, _mime, failure = self._s3_object(metadata["s3Location"])
        if failure is not None:
            return {}, failure
        try:
            attributes = json.loads(body)["metadataAttributes"]
        except (ValueError, KeyError, TypeError):
            return {}, "The metadata file is not JSON with a metadataAttributes object."
        if not isinstance(attributes, dict):
            return {}, "The metadata file's metadataAttributes is not an object."
        return attributes, None


def _check_content(content: dict, source_type: str) -> None:
    """The model lets any content through; Bedrock wants the one that fits the data source."""
    if content["dataSourceType"] != source_type:
        raise validation_error(
            f"The document's dataSourceType {content['dataSourceType']} does not match the "
            f"data source's type {source_type}: an S3 data source takes S3 content, a CUSTOM "
            "data source takes CUSTOM content."
        )
    if source_type == "S3":
        if content.get("s3") is None:
            raise validation_error("An S3 document needs content.s3.")
        return
    custom = content.get("custom")
    if custom is None:
        raise validation_error("A CUSTOM document needs content.custom.")
    if custom["sourceType"] == "S3_LOCATION":
        if custom.get("s3Location") is None:
            raise validation_error("A custom document of sourceType S3_LOCATION needs s3Location.")
        return
    inline = custom.get("inlineContent")
    if inline is None:
        raise validation_error("A custom document of sourceType IN_LINE needs inlineContent.")
    member = "textContent" if inline["type"] == "TEXT" else "byteContent"
    if inline.get(member) is None:
        raise validation_error(f"Inline content of type {inline['type']} needs {member}.")


def _inline_attributes(attributes: list[dict]) -> dict[str, object]:
    members = {
        "STRING": "stringValue",
        "NUMBER": "numberValue",
        "BOOLEAN": "booleanValue",
        "STRING_LIST": "stringListValue",
    }
    values: dict[str, object] = {}
    for attribute in attributes:
        key, value = attribute["key"], attribute["value"]
        member = members[value["type"]]
        if value.get(member) is None:
            raise validation_error(
                f"The metadata attribute {key!r} is of type {value['type']}: give its {member}."
            )
        if key in values:
            raise validation_error(f"The metadata attribute {key!r} is given more than once.")
        values[key] = value[member]
    return values


def _content_failure(body: bytes | None, text: bool) -> str | None:
    """Why ingestion fails on content the request was allowed to carry, None if it does not."""
    if body is None:
        return None
    if len(body) > MAX_DOCUMENT_BYTES:
        return (
            f"The document is {len(body)} bytes, over the {MAX_DOCUMENT_BYTES}-byte quota for "
            "a document in a knowledge base."
        )
    if text and not body.decode("utf-8", "replace").strip():
        return "The document has no text to index: its content is empty or only whitespace."
    return None


def _key(content: dict) -> tuple[str, str]:
    if content["dataSourceType"] == "S3":
        return "S3", content["s3"]["s3Location"]["uri"]
    return "CUSTOM", content["custom"]["customDocumentIdentifier"]["id"]


def _identifier_key(identifier: dict, source_type: str) -> tuple[str, str]:
    if identifier["dataSourceType"] != source_type:
        raise validation_error(
            f"The document identifier's dataSourceType {identifier['dataSourceType']} does not "
            f"match the data source's type {source_type}."
        )
    if source_type == "S3":
        if identifier.get("s3") is None:
            raise validation_error("An S3 document identifier needs s3.")
        return "S3", identifier["s3"]["uri"]
    if identifier.get("custom") is None:
        raise validation_error("A CUSTOM document identifier needs custom.")
    return "CUSTOM", identifier["custom"]["id"]
