"""Opening kbsync's database: the engine, its per-connection settings, and the schema brought
to the newest migration before anything else touches it.

SQLite (a file, or memory for unit tests) serves one host's processes; PostgreSQL
(`postgresql+psycopg://...`) serves replicas. Migrations run at start-up, one process at a
time: under a PostgreSQL advisory lock, or an exclusive lock on a file beside the SQLite
database. A process that starts while another holds the lock waits for it.
"""

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
HEAD = "head"
# The revision schema.py describes: Alembic's head (a test checks it). A database already there
# is opened without loading Alembic at all, which a process would carry for nothing (~12 MB).
SCHEMA_REVISION = "0009"
VERSION_TABLE = "alembic_version"
# kbsync 0.1.0 created its tables without Alembic: such a database is stamped with the
# baseline revision, which describes exactly what it has, then upgraded.
BASELINE_REVISION = "0001"
LEGACY_TABLE = "executions"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# Any fixed 64-bit number, the same in every kbsync process: the advisory lock's name.
MIGRATION_LOCK_KEY = 0x6B6273796E63  # "kbsync"


class DatabaseError(RuntimeError):
    """The database cannot be opened or upgraded; the message says which and why."""


def is_in_memory(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def create_database_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite's per-connection settings in force from its first
    statement (a process that opens the file while another writes waits, never fails)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if is_in_memory(url):
        # One shared connection, or each thread would see its own empty database.
        engine = sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # `timeout` is sqlite3's busy timeout, set when the connection opens: before any
        # statement, PRAGMAs included, can meet another process's lock.
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )

    @sa.event.listens_for(engine, "connect")
    def _configure_sqlite(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest migration, one process at a time.

    Raises DatabaseError, naming the database (never its password), when it cannot be reached.
    """
    with _unreachable_as_database_error(engine), _migration_lock(engine) as connection:
        if engine.dialect.name == "sqlite" and not is_in_memory(str(engine.url)):
            # Persistent in the file: readers never wait for the writer. Set here, under the
            # lock, so two processes opening a new file do not race to switch its journal.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        current = _stored_revision(connection)
        if current == SCHEMA_REVISION:
            connection.commit()
            return
        from alembic import command

        config = migration_config(connection)
        if current is None and sa.inspect(connection).has_table(LEGACY_TABLE):
            logger.info("Database from kbsync 0.1.0: stamping revision %s", BASELINE_REVISION)
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, HEAD)
        connection.commit()


def migration_config(connection: Connection) -> "Config":
    """Alembic's configuration for kbsync's migrations, run on `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    with _unreachable_as_database_error(engine), engine.connect() as connection:
        return _stored_revision(connection)


def _stored_revision(connection: Connection) -> str | None:
    """The revision Alembic recorded in the database; None for a new (or 0.1.0) database."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


@contextmanager
def _unreachable_as_database_error(engine: Engine) -> Iterator[None]:
    try:
        yield
    except sa.exc.OperationalError as error:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        raise DatabaseError(f"Cannot open the database {where}: {reason}") from None


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection held alone by this process among all kbsync processes on the database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    if is_in_memory(str(engine.url)):
        with engine.connect() as connection:
            yield connection
        return
    lock_path = Path(f"{engine.url.database}.migration-lock")
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
