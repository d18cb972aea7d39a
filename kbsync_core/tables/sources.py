"""Named SQL sources: where table jobs read rows from, always read-only.

A TOML file (KBSYNC_SOURCES_FILE, or `sources.toml` beside app.py) names them:

    [sources.orders_db]
    url = "postgresql+psycopg://reader:secret@db.example.com/shop"

    [sources.crm]
    url_env = "CRM_DB_URL"          # the URL is read from this environment variable

Any SQLAlchemy URL whose driver is installed works; SQLite and PostgreSQL (psycopg) are. kbsync
only reads: SQLite is opened through a `file:...?mode=ro` URI (the driver itself refuses any
write), PostgreSQL sessions start with `default_transaction_read_only` on.

A source's URL may hold a password: it is a secret. It is never in a repr, a message, a log or
anything shown; a driver's error, which may quote the URL, is redacted before it goes anywhere.
"""

import logging
import os
import threading
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from kbsync_core.config import ConfigurationError
from kbsync_core.errors import SourceError

logger = logging.getLogger(__name__)

SOURCE_NAME_MAX_LENGTH = 64
CONNECT_TIMEOUT_SECONDS = 10
REDACTED = "***"


@dataclass(frozen=True)
class SourceTable:
    """`<source>.<table>` or `<source>.<schema>.<table>`, as a job names its table."""

    source: str
    schema: str | None
    table: str

    def __str__(self) -> str:
        return ".".join(part for part in (self.source, self.schema, self.table) if part)


def parse_source_table(text: str) -> SourceTable | None:
    """The parts of a `source_table`; None when it has not 2 or 3 non-empty parts."""
    parts = text.strip().split(".") if isinstance(text, str) else []
    if len(parts) not in (2, 3) or not all(part.strip() for part in parts):
        return None
    parts = [part.strip() for part in parts]
    if len(parts) == 2:
        return SourceTable(parts[0], None, parts[1])
    return SourceTable(parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    primary_key: bool


@dataclass(frozen=True)
class Source:
    """One named source. `url` is a secret: out of the repr, never shown (`shown_url` is)."""

    name: str
    url: str = field(repr=False)
    origin: str = "file"  # file, env (url_env) or sample (the sandbox's orders_db)

    @property
    def shown_url(self) -> str:
        """The URL with its password hidden, for the console."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return sa.engine.make_url(self.url).get_backend_name()

    def redact(self, text: str) -> str:
        """`text` without the URL or its password, in any spelling a driver may quote."""
        url = sa.engine.make_url(self.url)
        secrets = {self.url}
        if url.password:
            password = str(url.password)
            secrets |= {password, quote(password, safe=""), url.render_as_string(False)}
        for secret in sorted(secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, REDACTED)
        return text


def read_only_engine(source: Source) -> sa.engine.Engine:
    """An engine that can only read the source (see the module's docstring)."""
    url = sa.engine.make_url(source.url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise SourceError(
                f"Source {source.name} is an in-memory SQLite database: nothing to read."
            )
        path = Path(database).expanduser().resolve()
        # A URI: the driver opens the file read-only and never creates it.
        ro_url = f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"
        return sa.create_engine(ro_url, connect_args={"check_same_thread": False})
    if backend == "postgresql":
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            connect_args={
                "options": "-c default_transaction_read_only=on",
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            },
        )
    return sa.create_engine(url, pool_pre_ping=True)


class Sources:
    """The sources of one process: named, each with its read-only engine, opened when first
    used and kept."""

    def __init__(self, sources: Mapping[str, Source]):
        self._sources = dict(sources)
        self._engines: dict[str, sa.engine.Engine] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._sources)

    def get(self, name: str) -> Source | None:
        return self._sources.get(name)

    def add(self, source: Source) -> None:
        self._sources[source.name] = source

    def engine(self, name: str) -> sa.engine.Engine:
        source = self._sources.get(name)
        if source is None:
            raise SourceError(f"There is no source named {name!r}.")
        with self._lock, self.errors_redacted(name):
            engine = self._engines.get(name)
            if engine is None:
                engine = self._engines[name] = read_only_engine(source)
            return engine

    @contextmanager
    def errors_redacted(self, name: str) -> Iterator[None]:
        """Any driver error reading source `name` becomes a SourceError without its secret."""
        try:
            yield
        except SourceError:
            raise
        except Exception as error:  # a driver's, SQLAlchemy's: any may quote the URL
            source = self._sources.get(name)
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()
            text = reason[0] if reason else type(error).__name__
            if source is not None:
                text = source.redact(text)
            raise SourceError(f"Source {name} could not be read: {text}") from None

    # -- what the console shows ---------------------------------------------------------------

    def tables(self, name: str) -> list[str]:
        """The source's tables (and views) as `source_table` names them: `<source>.<table>`
        for the default schema, `<source>.<schema>.<table>` for the others (PostgreSQL)."""
        engine = self.engine(name)
        with self.errors_redacted(name):
            inspector = sa.inspect(engine)
            default = inspector.default_schema_name
            schemas = [default]
            if engine.dialect.name == "postgresql":
                schemas = [
                    s
                    for s in inspector.get_schema_names()
                    if s not in ("information_schema",) and not s.startswith("pg_")
                ]
            found = []
            for schema in schemas:
                names = inspector.get_table_names(schema=schema) + inspector.get_view_names(
                    schema=schema
                )
                for table in sorted(names):
                    found.append(
                        f"{name}.{table}" if schema == default else f"{name}.{schema}.{table}"
                    )
        return found

    def columns(self, table: SourceTable) -> list[Column]:
        """The table's columns, in their order; SourceError when the table is not there."""
        engine = self.engine(table.source)
        with self.errors_redacted(table.source):
            inspector = sa.inspect(engine)
            if not inspector.has_table(table.table, schema=table.schema) and table.table not in (
                inspector.get_view_names(schema=table.schema)
            ):
                raise SourceError(
                    f"Source {table.source} has no table {table.table!r}"
                    + (f" in schema {table.schema!r}." if table.schema else ".")
                )
            keys = inspector.get_pk_constraint(table.table, schema=table.schema)
            key_columns = list(keys.get("constrained_columns") or [])
            return [
                Column(
                    name=column["name"],
                    type=str(column["type"]),
                    nullable=bool(column.get("nullable", True)),
                    primary_key=column["name"] in key_columns,
                )
                for column in inspector.get_columns(table.table, schema=table.schema)
            ]

    def primary_key(self, table: SourceTable) -> list[str]:
        """The table's primary key columns, in the key's order (empty: none)."""
        engine = self.engine(table.source)
        with self.errors_redacted(table.source):
            keys = sa.inspect(engine).get_pk_constraint(table.table, schema=table.schema)
        return list(keys.get("constrained_columns") or [])

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def load_sources(path: Path | None, environ: Mapping[str, str] | None = None) -> Sources:
    """The sources `path` names (none without a file); ConfigurationError naming what is wrong
    in it (never a URL)."""
    environ = os.environ if environ is None else environ
    if path is None:
        return Sources({})
    try:
        document = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"The sources file {path} cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"The sources file {path} is not valid TOML: {error}") from None
    tables = document.get("sources", {})
    if not isinstance(tables, dict):
        raise ConfigurationError(f"The sources file {path}: `sources` must be a table.")
    sources = {}
    for name, entry in tables.items():
        where = f"The sources file {path}, [sources.{name}]"
        if not name or len(name) > SOURCE_NAME_MAX_LENGTH or "." in name:
            raise ConfigurationError(
                f"{where}: a source's name is 1 to "
                f"{SOURCE_NAME_MAX_LENGTH} characters, with no dot."
            )
        if not isinstance(entry, dict) or ("url" in entry) == ("url_env" in entry):
            raise ConfigurationError(f"{where}: give either url or url_env.")
        origin = "file"
        url = entry.get("url")
        if "url_env" in entry:
            origin = "env"
            variable = entry["url_env"]
            url = environ.get(variable, "").strip() if isinstance(variable, str) else None
            if not url:
                raise ConfigurationError(
                    f"{where}: url_env names {variable!r}, which is not set in the environment."
                )
        if not isinstance(url, str) or not url.strip():
            raise ConfigurationError(f"{where}: url must be a SQLAlchemy URL.")
        try:
            sa.engine.make_url(url.strip())
        except sa.exc.ArgumentError:
            # Not the URL itself in the message: it may hold a password.
            raise ConfigurationError(f"{where}: the URL is not a SQLAlchemy URL.") from None
        sources[name] = Source(name, url.strip(), origin)
    return Sources(sources)
