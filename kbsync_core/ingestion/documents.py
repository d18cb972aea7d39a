"""A Document: what one record becomes on its way into a knowledge base, whatever adapter read
it (generic-json records, content-hub items, table rows) and whichever way it goes into Bedrock
(IngestKnowledgeBaseDocuments for a CUSTOM data source, `<id>.md` plus a metadata sidecar for
an S3 one).

Its content hash is what deduplication keeps per (knowledge base, data source, document id):
everything that would change the indexed document is hashed, in a canonical JSON form, so the
same record sent again hashes the same whatever its key order, and any change to its text,
title or metadata makes it new.
"""

import hashlib
import json
from dataclasses import dataclass, field

CONTENT_TYPES = ("text", "markdown", "code", "qa_pair")
DEFAULT_CONTENT_TYPE = "markdown"

# A metadata value Bedrock accepts: STRING, NUMBER, BOOLEAN or STRING_LIST.
MetadataValue = str | int | float | bool | tuple[str, ...]


@dataclass(frozen=True)
class RecordProblem:
    """Something wrong with one part of the input: `path` says where (seed 002's errors[]:
    `data.records[3].id`), `message` what, in words an operator understands."""

    path: str
    message: str


@dataclass(frozen=True)
class Document:
    """One record, ready to send. `id` is the record's own (generic-json `id`, content-hub's
    documentIdentifier): the document's identifier in Bedrock and the key of its hash.
    `metadata` already fits Bedrock's limits; `problems` says what of the record's metadata
    did not fit and was left out (reported in the record's result, never dropped silently)."""

    id: str
    content: str
    title: str | None = None
    content_type: str = DEFAULT_CONTENT_TYPE
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    url: str | None = None
    tags: tuple[str, ...] = ()
    deleted: bool = False
    problems: tuple[str, ...] = ()

    def content_hash(self) -> str:
        """SHA-256 of what the indexed document is made of (not `deleted`, nor `problems`)."""
        canonical = json.dumps(
            {
                "id": self.id,
                "title": self.title,
                "content": self.content,
                "contentType": self.content_type,
                "metadata": {key: _jsonable(value) for key, value in self.metadata.items()},
                "url": self.url,
                "tags": list(self.tags),
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _jsonable(value: MetadataValue):
    return list(value) if isinstance(value, tuple) else value
