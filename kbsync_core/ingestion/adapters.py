"""The input formats of seed 002 turned into Documents: `generic-json` and `content-hub`.

Each adapter reads a job's `data` and answers with the Documents it made and the problems that
refuse the job (seed 002: a payload that fails validation is a 400 listing every problem, each
with the path its errors[] would give, `data.records[3].id`). A problem found, the adapter goes
on reading, so that one answer lists them all. What only one attribute of a record's metadata
gets wrong does not refuse the job: it is left out and named in that Document's `problems`
(metadata.py).

Unknown fields of a record are ignored, as the seed says nothing of them: an export may carry
more than kbsync reads.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kbsync_core.errors import KbsyncError
from kbsync_core.ingestion.documents import (
    CONTENT_TYPES,
    DEFAULT_CONTENT_TYPE,
    Document,
    RecordProblem,
)
from kbsync_core.ingestion.markdown import derive_title, first_heading, html_to_markdown
from kbsync_core.ingestion.metadata import fit_metadata, own_attributes

# CustomDocumentIdentifier.id in botocore's model: what Bedrock takes as a document's id.
ID_MAX_LENGTH = 2048
PAYLOAD_INVALID = "Payload validation failed"

ReadResult = tuple[list[Document], list[RecordProblem]]


class UnknownAdapterError(KbsyncError, LookupError):
    """No adapter has that name (seed 002: `Unknown adapter: <name>`)."""

    def __init__(self, name: str):
        super().__init__(f"Unknown adapter: {name}")
        self.name = name


class PayloadInvalidError(KbsyncError, ValueError):
    """A job's data that an adapter refuses; `problems` holds every problem with its path."""

    def __init__(self, problems: list[RecordProblem]):
        super().__init__(PAYLOAD_INVALID)
        self.problems = problems


@dataclass(frozen=True)
class Adapter:
    """An input format: `name` is what a job's `adapterType` says; `read(data)` turns the job's
    `data` into Documents and the problems that refuse it."""

    name: str
    format: str
    version: str
    read: Callable[[Any], ReadResult]


def adapters() -> list[Adapter]:
    """Every adapter, as GET /adapters lists them."""
    return list(_ADAPTERS.values())


def adapter(name: str) -> Adapter:
    """The adapter called `name`; UnknownAdapterError when there is none."""
    try:
        return _ADAPTERS[name]
    except (KeyError, TypeError):
        raise UnknownAdapterError(str(name)) from None


def read_payload(adapter_name: str, data: Any) -> list[Document]:
    """The Documents of a job's data; UnknownAdapterError, or PayloadInvalidError with every
    problem, when the job must be refused."""
    documents, problems = adapter(adapter_name).read(data)
    if problems:
        raise PayloadInvalidError(problems)
    return documents


# generic-json


def read_generic_json(data: Any) -> ReadResult:
    """Seed 002's generic JSON: `{"records": [{id, title, content, contentType, metadata,
    deleted, url, tags}, ...]}`. A record without a title gets one from its content (its first
    heading, or its first line, cut: markdown.derive_title)."""
    problems: list[RecordProblem] = []
    if not isinstance(data, Mapping):
        return [], [RecordProblem("data", "must be an object with a `records` array")]
    records = data.get("records")
    if records is None:
        problems.append(RecordProblem("data.records", "is required: an array of records"))
    elif not isinstance(records, list):
        problems.append(RecordProblem("data.records", "must be an array of records"))
    elif not records:
        problems.append(RecordProblem("data.records", "is empty: there is nothing to ingest"))
    documents: list[Document] = []
    first_paths: dict[str, str] = {}
    for index, record in enumerate(records if isinstance(records, list) else ()):
        path = f"data.records[{index}]"
        document = _generic_record(record, path, problems)
        _collect(document, f"{path}.id", documents, first_paths, problems)
    return documents, problems


def _generic_record(record: Any, path: str, problems: list[RecordProblem]) -> Document | None:
    if not isinstance(record, Mapping):
        problems.append(RecordProblem(path, "must be an object"))
        return None
    found = len(problems)
    deleted = _boolean(record, "deleted", path, problems)
    record_id = _identifier(record.get("id"), f"{path}.id", problems)
    content = _content(record.get("content"), f"{path}.content", deleted, problems)
    title = _optional_text(record, "title", path, problems)
    url = _optional_text(record, "url", path, problems)
    content_type = _content_type(record, path, problems)
    tags = _tags(record.get("tags"), f"{path}.tags", problems)
    metadata = record.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        problems.append(RecordProblem(f"{path}.metadata", "must be an object"))
    if len(problems) > found:
        return None
    entries = [
        (_member_path(f"{path}.metadata", key), key, value)
        for key, value in (metadata or {}).items()
    ]
    return _document(
        record_id, content, title or derive_title(content, content_type), content_type,
        entries, url, tags, deleted,
    )  # fmt: skip


# content-hub


def read_content_hub(data: Any) -> ReadResult:
    """Seed 002's content-hub export: `[[item, ...], {"timeTaken": ...}]`. Each item's id is
    its `content.documentIdentifier` and its text `inlineContent.textContent.data`, HTML turned
    into Markdown. Its inline attributes become metadata, typed by their `type`; the title is
    the `Title` attribute, else the first heading, else the first line; tags come from
    `keywords` (comma-separated) and from attributes naming entities (a key holding "entit":
    `entities`, `customEntities`...); the URL from a `url` or `_source_uri` attribute; the
    content type from a `contentType` attribute naming one of kbsync's, else markdown. Every
    array of `data` is a page of items; objects beside them (`timeTaken`) are the export's own
    and ignored."""
    if not isinstance(data, list):
        return [], [RecordProblem("data", 'must be an array: [[item, ...], {"timeTaken"}]')]
    problems: list[RecordProblem] = []
    documents: list[Document] = []
    first_paths: dict[str, str] = {}
    for page_index, page in enumerate(data):
        if isinstance(page, Mapping):
            continue
        if not isinstance(page, list):
            problems.append(RecordProblem(f"data[{page_index}]", "must be an array of items"))
            continue
        for index, item in enumerate(page):
            path = f"data[{page_index}][{index}]"
            document = _content_hub_item(item, path, problems)
            id_path = f"{path}.content.documentIdentifier"
            _collect(document, id_path, documents, first_paths, problems)
    if not documents and not problems:
        problems.append(RecordProblem("data", "has no items: there is nothing to ingest"))
    return documents, problems


@dataclass(frozen=True)
class _Attribute:
    path: str
    key: str
    type: str
    value: Any


_ATTRIBUTE_FIELDS = {
    "STRING": ("stringValue", str),
    "NUMBER": ("numberValue", int | float),
    "BOOLEAN": ("booleanValue", bool),
    "STRING_LIST": ("stringListValue", list),
}


def _content_hub_item(item: Any, path: str, problems: list[RecordProblem]) -> Document | None:
    if not isinstance(item, Mapping):
        problems.append(RecordProblem(path, "must be an object"))
        return None
    content = item.get("content")
    if not isinstance(content, Mapping):
        problems.append(RecordProblem(f"{path}.content", "must be an object"))
        return None
    found = len(problems)
    content_path = f"{path}.content"
    deleted = _boolean(content, "deleted", content_path, problems)
    record_id = _identifier(
        content.get("documentIdentifier"), f"{content_path}.documentIdentifier", problems
    )
    markdown = _inline_text(content.get("inlineContent"), content_path, deleted, problems)
    attributes = _inline_attributes(item.get("metadata"), f"{path}.metadata", problems)
    if len(problems) > found:
        return None
    by_key = {attribute.key.lower(): attribute for attribute in reversed(attributes)}
    title = _string_attribute(by_key.get("title")) or first_heading(markdown)
    url = _string_attribute(by_key.get("url")) or _string_attribute(by_key.get("_source_uri"))
    content_type = _string_attribute(by_key.get("contenttype"))
    if content_type not in CONTENT_TYPES:
        content_type = DEFAULT_CONTENT_TYPE
    tags: list[str] = []
    for attribute in attributes:
        key = attribute.key.lower()
        if key == "keywords" or "entit" in key:
            tags.extend(_tag_values(attribute.value))
    entries = [(attribute.path, attribute.key, attribute.value) for attribute in attributes]
    return _document(
        record_id, markdown, title or derive_title(markdown, content_type), content_type,
        entries, url, _unique(tags), deleted,
    )  # fmt: skip


def _inline_text(inline: Any, path: str, deleted: bool, problems: list[RecordProblem]) -> str:
    if inline is None and deleted:
        return ""
    where = f"{path}.inlineContent"
    if not isinstance(inline, Mapping):
        problems.append(RecordProblem(where, "must be an object with a `textContent`"))
        return ""
    if inline.get("type", "TEXT") != "TEXT":
        problems.append(RecordProblem(f"{where}.type", "must be TEXT: only text is read"))
        return ""
    text = inline.get("textContent")
    if not isinstance(text, Mapping):
        problems.append(RecordProblem(f"{where}.textContent", "must be an object with `data`"))
        return ""
    markup = text.get("data")
    where = f"{where}.textContent.data"
    if markup is None and deleted:
        return ""
    if not isinstance(markup, str):
        problems.append(RecordProblem(where, "must be a string of HTML"))
        return ""
    if not _is_text(markup):
        problems.append(RecordProblem(where, _NOT_TEXT))
        return ""
    markdown = html_to_markdown(markup)
    if not markdown and not deleted:
        problems.append(RecordProblem(where, "has no text once its HTML is read"))
    return markdown


def _inline_attributes(metadata: Any, path: str, problems: list[RecordProblem]) -> list[_Attribute]:
    if metadata is None:
        return []
    if not isinstance(metadata, Mapping):
        problems.append(RecordProblem(path, "must be an object"))
        return []
    listed = metadata.get("inlineAttributes")
    if listed is None:
        return []
    if not isinstance(listed, list):
        problems.append(RecordProblem(f"{path}.inlineAttributes", "must be an array"))
        return []
    attributes = []
    for index, attribute in enumerate(listed):
        where = f"{path}.inlineAttributes[{index}]"
        if not isinstance(attribute, Mapping):
            problems.append(RecordProblem(where, "must be an object with `key` and `value`"))
            continue
        key, value = attribute.get("key"), attribute.get("value")
        if not isinstance(key, str) or not key:
            problems.append(RecordProblem(f"{where}.key", "must be a non-empty string"))
            continue
        if not isinstance(value, Mapping):
            problems.append(RecordProblem(f"{where}.value", "must be an object with a `type`"))
            continue
        kind = value.get("type")
        if kind not in _ATTRIBUTE_FIELDS:
            problems.append(
                RecordProblem(
                    f"{where}.value.type", f"must be one of {', '.join(_ATTRIBUTE_FIELDS)}"
                )
            )
            continue
        field, expected = _ATTRIBUTE_FIELDS[kind]
        typed = value.get(field)
        # JSON's true is no number, though Python's bool is an int.
        if not isinstance(typed, expected) or (kind == "NUMBER" and isinstance(typed, bool)):
            problems.append(
                RecordProblem(f"{where}.value.{field}", f"is required for a {kind} attribute")
            )
            continue
        attributes.append(_Attribute(where, key, kind, typed))
    return attributes


def _string_attribute(attribute: _Attribute | None) -> str | None:
    if attribute is None or attribute.type != "STRING":
        return None
    return attribute.value.strip() or None


def _tag_values(value: Any) -> list[str]:
    items = value if isinstance(value, list) else value.split(",") if isinstance(value, str) else []
    return [item.strip() for item in items if isinstance(item, str) and item.strip()]


# shared


_NOT_TEXT = "is not valid text: it contains a lone surrogate or other code that is no character"


def _document(
    record_id: str,
    content: str,
    title: str | None,
    content_type: str,
    entries: Iterable[tuple[str, str, Any]],
    url: str | None,
    tags: tuple[str, ...],
    deleted: bool,
) -> Document:
    own, problems = own_attributes(title, url, tags, content_type)
    metadata, left_out = fit_metadata(entries, own)
    return Document(
        id=record_id,
        content=content,
        title=title,
        content_type=content_type,
        metadata=metadata,
        url=url,
        tags=tags,
        deleted=deleted,
        problems=tuple(problems + left_out),
    )


def _collect(
    document: Document | None,
    id_path: str,
    documents: list[Document],
    first_paths: dict[str, str],
    problems: list[RecordProblem],
) -> None:
    """Adds a document read; an id read before is a problem at its repeat: which of two records
    with one id Bedrock should keep is no question kbsync can answer."""
    if document is None:
        return
    if document.id in first_paths:
        problems.append(RecordProblem(id_path, f"repeats the id of {first_paths[document.id]}"))
    else:
        first_paths[document.id] = id_path
    documents.append(document)


def _identifier(value: Any, where: str, problems: list[RecordProblem]) -> str:
    if value is None:
        problems.append(RecordProblem(where, "is required"))
    elif not isinstance(value, str):
        problems.append(RecordProblem(where, "must be a string"))
    elif not value.strip():
        problems.append(RecordProblem(where, "must not be empty"))
    elif len(value) > ID_MAX_LENGTH:
        problems.append(
            RecordProblem(
                where,
                f"is {len(value):,} characters long: Bedrock's document ids hold at most "
                f"{ID_MAX_LENGTH:,}",
            )
        )
    elif not _is_text(value):
        problems.append(RecordProblem(where, _NOT_TEXT))
    else:
        return value
    return ""


def _content(value: Any, where: str, deleted: bool, problems: list[RecordProblem]) -> str:
    if value is None:
        if not deleted:
            problems.append(RecordProblem(where, "is required"))
        return ""
    if not isinstance(value, str):
        problems.append(RecordProblem(where, "must be a string"))
    elif not value.strip() and not deleted:
        problems.append(RecordProblem(where, "must not be empty"))
    elif not _is_text(value):
        problems.append(RecordProblem(where, _NOT_TEXT))
    else:
        return value
    return ""


def _optional_text(
    record: Mapping, field: str, path: str, problems: list[RecordProblem]
) -> str | None:
    value = record.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(RecordProblem(f"{path}.{field}", "must be a string"))
        return None
    if not _is_text(value):
        problems.append(RecordProblem(f"{path}.{field}", _NOT_TEXT))
        return None
    return value.strip() or None


def _boolean(record: Mapping, field: str, path: str, problems: list[RecordProblem]) -> bool:
    value = record.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        problems.append(RecordProblem(f"{path}.{field}", "must be true or false"))
        return False
    return value


def _content_type(record: Mapping, path: str, problems: list[RecordProblem]) -> str:
    value = record.get("contentType")
    if value is None:
        return DEFAULT_CONTENT_TYPE
    if value not in CONTENT_TYPES:
        problems.append(
            RecordProblem(f"{path}.contentType", f"must be one of {', '.join(CONTENT_TYPES)}")
        )
        return DEFAULT_CONTENT_TYPE
    return value


def _tags(value: Any, where: str, problems: list[RecordProblem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(RecordProblem(where, "must be an array of strings"))
        return ()
    tags = []
    for index, tag in enumerate(value):
        if not isinstance(tag, str) or not _is_text(tag):
            problems.append(RecordProblem(f"{where}[{index}]", "must be a string"))
        elif tag.strip():
            tags.append(tag.strip())
    return _unique(tags)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _member_path(path: str, key: str) -> str:
    # `metadata.author`, but `metadata["release date"]` where a dot would mislead.
    if key.isidentifier():
        return f"{path}.{key}"
    return f'{path}["{key}"]'


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


_ADAPTERS = {
    adapter.name: adapter
    for adapter in (
        Adapter("generic-json", "json", "1.0.0", read_generic_json),
        Adapter("content-hub", "content-hub-json", "1.0.0", read_content_hub),
    )
}
