"""A document's metadata within Bedrock's limits, and the two shapes it travels in.

The limits are botocore's model of bedrock-agent (MetadataAttribute, MetadataAttributeValue,
DocumentMetadata) and AWS's guide to S3 metadata files:
- at most 50 attributes per document (DocumentMetadata.inlineAttributes);
- a key of 1 to 200 characters; keys starting with `x-amz-bedrock-kb-` are Bedrock's own
  (the source URI, chunk and page numbers it adds), so a record cannot set them;
- a value is a STRING (1 to 2,048 characters), a NUMBER (a double), a BOOLEAN, or a
  STRING_LIST (1 to 10 strings of 1 to 2,048 characters each). Nothing else fits: no null, no
  nested object, no list of numbers or of mixed types;
- an S3 document's `<doc>.metadata.json` may not exceed 10 KB. The adapters do not know which
  way a document will go, so every document is held to it: its metadata is the same on both.

kbsync adds attributes of its own, from the record's own fields, so that Bedrock's Retrieve
answers carry what a citation or a filter needs (a CUSTOM document has no title or URL
otherwise): `title`, `url`, `tags` (STRING_LIST) and `contentType`, each only when the record
has it (`contentType` always). They count towards the 50 and come first; a record's metadata
key that is one of them, with another value than kbsync's, is left out, and said so.

What does not fit is left out of the document and named in its problems, never dropped
silently.
"""

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from kbsync_core.ingestion.documents import Document, MetadataValue

MAX_ATTRIBUTES = 50
KEY_MAX_LENGTH = 200
STRING_MAX_LENGTH = 2048
STRING_LIST_MAX_ITEMS = 10
SIDECAR_MAX_BYTES = 10 * 1024
RESERVED_KEY_PREFIX = "x-amz-bedrock-kb-"

# kbsync's own attributes, in the order they are added.
TITLE_KEY = "title"
URL_KEY = "url"
TAGS_KEY = "tags"
CONTENT_TYPE_KEY = "contentType"
OWN_KEYS = (TITLE_KEY, URL_KEY, TAGS_KEY, CONTENT_TYPE_KEY)


def value_problem(value: Any) -> str | None:
    """Why `value` cannot be a Bedrock metadata value, or None when it can."""
    if value is None:
        return "is null: Bedrock's values are strings, numbers, booleans or lists of strings"
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        # Bedrock's NUMBER is a double; JSON has no NaN or infinity (Python's parser accepts them).
        if isinstance(value, float) and not math.isfinite(value):
            return "is not a finite number"
        if isinstance(value, int) and abs(value) > 2**53:
            return "is a number too large to keep exact (Bedrock's numbers are doubles)"
        return None
    if isinstance(value, str):
        return _string_problem(value)
    if isinstance(value, list | tuple):
        if not value:
            return "is an empty list: Bedrock's string lists hold 1 to 10 strings"
        if not all(isinstance(item, str) for item in value):
            return "is a list of other things than strings: only lists of strings fit Bedrock"
        if len(value) > STRING_LIST_MAX_ITEMS:
            return (
                f"is a list of {len(value)} strings: Bedrock's string lists hold at most "
                f"{STRING_LIST_MAX_ITEMS}"
            )
        for index, item in enumerate(value):
            problem = _string_problem(item)
            if problem:
                return f"[{index}] {problem}"
        return None
    if isinstance(value, Mapping):
        return "is an object: Bedrock's metadata values cannot be nested"
    return f"is a {type(value).__name__}, which Bedrock's metadata cannot hold"


def _string_problem(value: str) -> str | None:
    if not _is_text(value):
        return "is not valid text: it contains a lone surrogate"
    if not value:
        return "is an empty string: Bedrock's string values hold 1 to 2,048 characters"
    if len(value) > STRING_MAX_LENGTH:
        return (
            f"is {len(value):,} characters long: Bedrock's string values hold at most "
            f"{STRING_MAX_LENGTH:,}"
        )
    return None


def key_problem(key: str) -> str | None:
    """Why `key` cannot name a Bedrock metadata attribute, or None when it can."""
    if not _is_text(key):
        return "is not valid text: it contains a lone surrogate"
    if not key:
        return "is an empty key"
    if len(key) > KEY_MAX_LENGTH:
        return f"is a key of {len(key)} characters: Bedrock's keys hold at most {KEY_MAX_LENGTH}"
    if key.startswith(RESERVED_KEY_PREFIX):
        return f"is a key Bedrock keeps for itself (it starts with {RESERVED_KEY_PREFIX})"
    return None


def own_attributes(
    title: str | None, url: str | None, tags: Iterable[str], content_type: str
) -> tuple[dict[str, MetadataValue], list[str]]:
    """kbsync's attributes for a record's title, url, tags and content type, and what of them
    did not fit (a tag list over Bedrock's 10 keeps its first 10)."""
    attributes: dict[str, MetadataValue] = {}
    problems: list[str] = []
    for key, value in ((TITLE_KEY, title), (URL_KEY, url)):
        if value is None:
            continue
        problem = value_problem(value)
        if problem:
            problems.append(f"{key} {problem}; it was left out of the metadata")
        else:
            attributes[key] = value
    tags = tuple(tags)
    fitting = tuple(tag for tag in tags if not _string_problem(tag))
    for index, tag in enumerate(tags):
        problem = _string_problem(tag)
        if problem:
            problems.append(f"tags[{index}] {problem}; it was left out of the metadata")
    if len(fitting) > STRING_LIST_MAX_ITEMS:
        left_out = fitting[STRING_LIST_MAX_ITEMS:]
        problems.append(
            f"tags: Bedrock's string lists hold at most {STRING_LIST_MAX_ITEMS} strings; "
            f"{', '.join(left_out)} were left out of the `tags` attribute"
        )
        fitting = fitting[:STRING_LIST_MAX_ITEMS]
    if fitting:
        attributes[TAGS_KEY] = fitting
    attributes[CONTENT_TYPE_KEY] = content_type
    return attributes, problems


def fit_metadata(
    metadata: Iterable[tuple[str, str, Any]], own: Mapping[str, MetadataValue]
) -> tuple[dict[str, MetadataValue], list[str]]:
    """The record's metadata, `(path, key, value)` in its order, that fits beside kbsync's own
    attributes `own`, and what was left out, each named by its path (seed 002's
    `data.records[3].metadata.author`)."""
    fitted: dict[str, MetadataValue] = {}
    problems: list[str] = []
    size = sidecar_size(own)
    for where, key, value in metadata:
        problem = key_problem(key)
        if problem is None and key in own:
            if _plain_value(own[key]) == value:
                continue  # the same value kbsync sets: it is there, nothing is lost
            problem = f"is set by kbsync from the record's own {key}"
        if problem is None:
            problem = value_problem(value)
        if problem is None and len(own) + len(fitted) >= MAX_ATTRIBUTES:
            problem = (
                f"is past Bedrock's {MAX_ATTRIBUTES} attributes per document "
                f"({len(own)} of them kbsync's own: {', '.join(own)})"
            )
        if problem is None:
            value = tuple(value) if isinstance(value, list) else value
            grown = size + _entry_size(key, value)
            if grown > SIDECAR_MAX_BYTES:
                problem = (
                    f"would make the document's metadata file {grown:,} bytes: Bedrock reads "
                    f"at most {SIDECAR_MAX_BYTES:,}"
                )
            else:
                size = grown
                fitted[key] = value
                continue
        # A key that is no valid text is named with escapes, so the problem itself can be stored.
        where = where.encode("utf-8", "backslashreplace").decode()
        problems.append(f"{where} {problem}; it was left out of the metadata")
    return fitted, problems


def document_attributes(document: Document) -> dict[str, MetadataValue]:
    """Every attribute the document carries into Bedrock: kbsync's own, then its metadata."""
    own, _ = own_attributes(document.title, document.url, document.tags, document.content_type)
    return {**own, **document.metadata}


def inline_attributes(document: Document) -> list[dict]:
    """The document's attributes as IngestKnowledgeBaseDocuments' `metadata.inlineAttributes`
    (`[{"key", "value": {"type", "stringValue" | ...}}]`)."""
    return [
        {"key": key, "value": _typed_value(value)}
        for key, value in document_attributes(document).items()
    ]


def sidecar_body(document: Document) -> dict:
    """The body of the document's `<doc>.metadata.json` on an S3 data source."""
    return {"metadataAttributes": _plain(document_attributes(document))}


def sidecar_size(attributes: Mapping[str, MetadataValue]) -> int:
    """Bytes of the metadata file holding `attributes`, as json.dumps writes it."""
    return len(_sidecar_json(attributes).encode())


def _sidecar_json(attributes: Mapping[str, MetadataValue]) -> str:
    return json.dumps({"metadataAttributes": _plain(attributes)}, ensure_ascii=False)


def _entry_size(key: str, value: MetadataValue) -> int:
    # `, "key": value` as json.dumps writes one more entry of the object.
    return len((", " + json.dumps({key: _plain_value(value)}, ensure_ascii=False)[1:-1]).encode())


def _plain(attributes: Mapping[str, MetadataValue]) -> dict:
    return {key: _plain_value(value) for key, value in attributes.items()}


def _plain_value(value: MetadataValue):
    return list(value) if isinstance(value, tuple) else value


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _typed_value(value: MetadataValue) -> dict:
    if isinstance(value, bool):
        return {"type": "BOOLEAN", "booleanValue": value}
    if isinstance(value, int | float):
        return {"type": "NUMBER", "numberValue": float(value)}
    if isinstance(value, tuple | list):
        return {"type": "STRING_LIST", "stringListValue": list(value)}
    return {"type": "STRING", "stringValue": value}
