"""A table job's rows: the increment after its watermark, and the Document each row becomes.

The watermark is the (filter column, primary key) of the last row loaded. The increment is

    WHERE f > :wf OR (f = :wf AND pk > :wpk) ORDER BY f, pk

(a composite key compares column by column), so rows sharing a filter value are neither skipped
nor read twice. Values are compared as the source stores them: the columns are untyped in the
query, so a SQLite timestamp held as text (`2025-06-19 18:00:00`) is bound and compared as that
text, and a PostgreSQL timestamp as a timestamp. A table without a primary key has no
tie-break: its increment is `f >= :wf`, the rows at the last filter value read again (their
documents are unchanged and skipped by hash, never sent twice). A row whose filter value is
NULL cannot be placed after a watermark: it is never read.

A row becomes a Document: its id `<table>-<primary key>` (a composite key's values joined with
`-`), or, without a key, a hash of its content columns; its content the content columns as
Markdown `column: value` lines; its metadata the other columns, typed for Bedrock (NUMBER,
BOOLEAN, STRING; dates and times as ISO 8601 text), at most 50 with kbsync's own.
"""

import base64
import hashlib
import json
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kbsync_core.ingestion.documents import Document
from kbsync_core.ingestion.metadata import fit_metadata, own_attributes
from kbsync_core.tables.sources import SourceTable

# Rows fetched from the driver at a time (PostgreSQL: a server-side cursor).
FETCH_BATCH = 1000
# Rows one run reads at most: the next run goes on from where it stopped.
MAX_ROWS_PER_RUN = 100_000
CONTENT_TYPE = "markdown"
# kbsync's own attributes of every row's Document: only `contentType` (no title, url or tags).
_OWN_ATTRIBUTES = own_attributes(None, None, (), CONTENT_TYPE)[0]


# -- the watermark ---------------------------------------------------------------------------


def encode_value(value: Any) -> dict:
    """A source's value as JSON that decodes to the same Python value (and type)."""
    if value is None:
        return {"type": "null", "value": None}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, Decimal):
        return {"type": "decimal", "value": str(value)}
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, time):
        return {"type": "time", "value": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"type": "uuid", "value": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "bytes", "value": base64.b64encode(bytes(value)).decode()}
    return {"type": "str", "value": str(value)}


_DECODERS = {
    "null": lambda v: None,
    "bool": bool,
    "int": int,
    "float": float,
    "decimal": Decimal,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
    "str": str,
}


def decode_value(encoded: dict) -> Any:
    return _DECODERS[encoded["type"]](encoded["value"])


@dataclass(frozen=True)
class Watermark:
    """The last row loaded: its filter value and its key's values (empty: no key)."""

    filter_value: Any
    key_values: tuple

    def to_json(self) -> dict:
        return {
            "filter": encode_value(self.filter_value),
            "key": [encode_value(value) for value in self.key_values],
        }

    @classmethod
    def from_json(cls, stored: dict | None) -> "Watermark | None":
        if not stored:
            return None
        return cls(decode_value(stored["filter"]), tuple(decode_value(v) for v in stored["key"]))

    def shown(self) -> dict:
        """For readers: the values as JSON shows them (dates as ISO text)."""
        return {
            "filter_value": _shown(self.filter_value),
            "key": [_shown(value) for value in self.key_values],
        }


def _shown(value: Any):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


# -- the increment ---------------------------------------------------------------------------


def increment_query(
    table: SourceTable,
    columns: Sequence[str],
    filter_column: str,
    key_columns: Sequence[str],
    watermark: Watermark | None,
    limit: int = MAX_ROWS_PER_RUN,
) -> sa.Select:
    """SELECT the rows after `watermark` (every row with a filter value, without one), ordered
    by the filter column then the key. Untyped columns: values bound and read as stored."""
    source = sa.table(table.table, *[sa.column(name) for name in columns], schema=table.schema)
    f = source.c[filter_column]
    keys = [source.c[name] for name in key_columns]
    query = sa.select(*[source.c[name] for name in columns]).where(f.is_not(None))
    if watermark is not None:
        if keys:
            query = query.where(_after(f, keys, watermark))
        else:
            query = query.where(f >= sa.literal(watermark.filter_value))
    return query.order_by(f, *keys).limit(limit)


def _after(f, keys, watermark: Watermark):
    """(f, k1, k2...) > (wf, wk1, wk2...), column by column, as plain comparisons any
    database plans on an index of (f, key)."""
    values = [watermark.filter_value, *watermark.key_values]
    columns = [f, *keys]
    alternatives = []
    for position, column in enumerate(columns):
        equal = [columns[i] == sa.literal(values[i]) for i in range(position)]
        alternatives.append(sa.and_(*equal, column > sa.literal(values[position])))
    return sa.or_(*alternatives)


def read_rows(connection: sa.Connection, query: sa.Select) -> Iterator[list[dict]]:
    """The query's rows in batches of FETCH_BATCH, as dicts (streamed: a PostgreSQL
    server-side cursor, not the whole increment at once in the driver)."""
    result = connection.execution_options(stream_results=True, yield_per=FETCH_BATCH).execute(query)
    for partition in result.mappings().partitions(FETCH_BATCH):
        yield [dict(row) for row in partition]


def watermark_of(row: dict, filter_column: str, key_columns: Sequence[str]) -> Watermark:
    return Watermark(row[filter_column], tuple(row[name] for name in key_columns))


# -- rows into Documents ---------------------------------------------------------------------


def document_id(
    table: str, row: dict, content_columns: Sequence[str], key_columns: Sequence[str]
) -> str:
    """`<table>-<key>`; without a key, `<table>-<sha256 of the content columns>[:32]`."""
    if key_columns:
        return f"{table}-" + "-".join(_text(row[name]) for name in key_columns)
    canonical = json.dumps(
        [[name, _text(row[name])] for name in content_columns], ensure_ascii=False
    )
    return f"{table}-{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


def row_document(
    table: str,
    row: dict,
    content_columns: Sequence[str],
    key_columns: Sequence[str],
    boolean_columns: frozenset[str] = frozenset(),
) -> Document:
    """The Document a row becomes (see the module's docstring). `boolean_columns`: columns
    declared BOOLEAN, whose values SQLite hands over as 0 and 1."""
    content = "\n".join(f"{name}: {_text(row[name])}".rstrip() for name in content_columns)
    own = _OWN_ATTRIBUTES
    candidates = []
    for name, value in row.items():
        if name in content_columns:
            continue
        if name in boolean_columns and isinstance(value, int):
            value = bool(value)
        typed = metadata_value(value)
        if typed is not None:
            candidates.append((name, name, typed))
    metadata, problems = fit_metadata(candidates, own)
    return Document(
        id=document_id(table, row, content_columns, key_columns),
        content=content,
        content_type=CONTENT_TYPE,
        metadata=metadata,
        problems=tuple(problems),
    )


def metadata_value(value: Any):
    """A column's value as Bedrock types it; None for what has no place in metadata (NULL,
    binary, an empty text)."""
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        number = float(value)
        return number if math.isfinite(number) and Decimal(repr(number)) == value else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    text = value if isinstance(value, str) else str(value)
    return text or None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
