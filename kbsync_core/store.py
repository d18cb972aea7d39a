"""Where executions live: one small interface over SQLAlchemy Core.

SQLite (a file under ./data/ by default, or memory for unit tests) serves one process; the same
tables and statements are portable to PostgreSQL, which serves several replicas later by adding
its driver and a URL, not by rewriting this module.

Writes go through one lock: SQLite allows one writer at a time, and serialising writers here
is cheaper and clearer than retrying on "database is locked". Readers run concurrently (WAL).
"""

import threading
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.timefmt import iso_utc, utc_now

SQLITE_BUSY_TIMEOUT_MS = 30_000
DEFAULT_LIST_LIMIT = 50

metadata = sa.MetaData()

executions_table = sa.Table(
    "executions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("knowledge_base_id", sa.String(16), nullable=False),
    sa.Column("data_source_id", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # ISO 8601 UTC strings of one fixed width, so they sort as time does.
    sa.Column("started_at", sa.String(24), nullable=False),
    sa.Column("finished_at", sa.String(24)),
    sa.Column("updated_at", sa.String(24)),
    sa.Column("job_id", sa.String(16)),
    sa.Column("aws_status", sa.String(16)),
    sa.Column("statistics", sa.JSON, nullable=False),
    sa.Column("failure_reasons", sa.JSON, nullable=False),
    sa.Column("interrupted", sa.Boolean, nullable=False, default=False),
    sa.Column("conflict_job_id", sa.String(16)),
    sa.Index(
        "ix_executions_target_started",
        "region", "knowledge_base_id", "data_source_id", "started_at",
    ),
    sa.Index("ix_executions_job_id", "job_id"),
    sa.Index("ix_executions_status", "status"),
)

execution_logs_table = sa.Table(
    "execution_logs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "execution_id",
        sa.String(36),
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("line", sa.Text, nullable=False),
)

# The fields of Execution that are columns (logs and target are stored apart).
UPDATABLE_FIELDS = frozenset(
    {
        "status", "finished_at", "job_id", "aws_status", "statistics", "failure_reasons",
        "interrupted", "conflict_job_id", "description",
    }
)
UNFINISHED_STATUSES = (ExecutionStatus.PENDIENTE, ExecutionStatus.EN_EJECUCION)


def _create_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    if in_memory:
        # One shared connection, or each thread would see its own empty database.
        engine = sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        database_path = sa.engine.make_url(url).database
        if database_path:
            Path(database_path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _configure_sqlite(connection, _record):
        cursor = connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class ExecutionStore:
    """Executions, their logs, statistics and failure reasons, persisted."""

    def __init__(self, url: str = "sqlite://"):
        self.url = url
        self._engine = _create_engine(url)
        self._in_memory = self._engine.url.database in (None, "", ":memory:") and (
            self._engine.dialect.name == "sqlite"
        )
        self._write_lock = threading.RLock()
        self._closed = False
        metadata.create_all(self._engine)

    # -- writing -----------------------------------------------------------------------------

    def add(self, execution: Execution) -> None:
        row = _row_from_execution(execution)
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(executions_table.insert().values(**row))
            self._insert_logs(connection, execution.id, execution.logs)

    def record(
        self, execution_id: str, *, log: Iterable[str] = (), **changes
    ) -> None:
        """Change fields and append log lines of one execution, in one transaction."""
        unknown = set(changes) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"Not execution fields: {sorted(unknown)}")
        if "status" in changes:
            changes["status"] = str(changes["status"])
        changes["updated_at"] = iso_utc(utc_now())
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(
                executions_table.update()
                .where(executions_table.c.id == execution_id)
                .values(**changes)
            )
            self._insert_logs(connection, execution_id, list(log))

    @staticmethod
    def _insert_logs(connection, execution_id: str, lines: list[str]) -> None:
        if lines:
            connection.execute(
                execution_logs_table.insert(),
                [{"execution_id": execution_id, "line": line} for line in lines],
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution | None:
        found = self._select(executions_table.c.id == execution_id)
        return found[0] if found else None

    def get_many(self, execution_ids: Iterable[str]) -> list[Execution]:
        """These executions, newest first; ids not found are left out."""
        execution_ids = list(execution_ids)
        if not execution_ids:
            return []
        return self._select(executions_table.c.id.in_(execution_ids))

    def list_for_target(
        self, target: SyncTarget, limit: int = DEFAULT_LIST_LIMIT
    ) -> list[Execution]:
        """The newest executions of one data source, newest first."""
        return self._select(_target_clause(target), limit=limit)

    def find_by_job_ids(self, target: SyncTarget, job_ids: Iterable[str]) -> dict[str, Execution]:
        """Local executions that started (or monitor) these jobs, by job id; newest wins."""
        job_ids = list(job_ids)
        if not job_ids:
            return {}
        found = self._select(
            sa.and_(_target_clause(target), executions_table.c.job_id.in_(job_ids))
        )
        by_job: dict[str, Execution] = {}
        for execution in reversed(found):  # oldest first, so the newest overwrites
            by_job[execution.job_id] = execution
        return by_job

    def list_unfinished(self) -> list[Execution]:
        return self._select(executions_table.c.status.in_([str(s) for s in UNFINISHED_STATUSES]))

    def list_interrupted(self, target: SyncTarget) -> list[Execution]:
        return self._select(
            sa.and_(_target_clause(target), executions_table.c.interrupted.is_(True))
        )

    def count(self) -> int:
        with self._engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(executions_table)
            ).scalar_one()

    def _select(self, where, limit: int | None = None) -> list[Execution]:
        query = (
            sa.select(executions_table)
            .where(where)
            .order_by(executions_table.c.started_at.desc(), executions_table.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        # An in-memory database is one connection shared by every thread: take turns.
        lock = self._write_lock if self._in_memory else _NO_LOCK
        with lock, self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            logs = self._logs_for(connection, [row["id"] for row in rows])
        return [_execution_from_row(row, logs.get(row["id"], [])) for row in rows]

    @staticmethod
    def _logs_for(connection, execution_ids: list[str]) -> dict[str, list[str]]:
        if not execution_ids:
            return {}
        result = connection.execute(
            sa.select(execution_logs_table.c.execution_id, execution_logs_table.c.line)
            .where(execution_logs_table.c.execution_id.in_(execution_ids))
            .order_by(execution_logs_table.c.id)
        )
        logs: dict[str, list[str]] = {}
        for execution_id, line in result:
            logs.setdefault(execution_id, []).append(line)
        return logs

    def close(self) -> None:
        """Idempotent: release the database's connections."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False


_NO_LOCK = _NoLock()


def _target_clause(target: SyncTarget):
    return sa.and_(
        executions_table.c.region == target.region,
        executions_table.c.knowledge_base_id == target.knowledge_base_id,
        executions_table.c.data_source_id == target.data_source_id,
    )


def _row_from_execution(execution: Execution) -> dict:
    return {
        "id": execution.id,
        "region": execution.target.region,
        "knowledge_base_id": execution.target.knowledge_base_id,
        "data_source_id": execution.target.data_source_id,
        "description": execution.description,
        "status": str(execution.status),
        "started_at": execution.started_at,
        "finished_at": execution.finished_at,
        "updated_at": execution.updated_at or execution.started_at,
        "job_id": execution.job_id,
        "aws_status": execution.aws_status,
        "statistics": execution.statistics,
        "failure_reasons": execution.failure_reasons,
        "interrupted": execution.interrupted,
        "conflict_job_id": execution.conflict_job_id,
    }


def _execution_from_row(row, logs: list[str]) -> Execution:
    return Execution(
        id=row["id"],
        target=SyncTarget(row["region"], row["knowledge_base_id"], row["data_source_id"]),
        description=row["description"],
        status=ExecutionStatus(row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        job_id=row["job_id"],
        aws_status=row["aws_status"],
        statistics=dict(row["statistics"] or {}),
        failure_reasons=list(row["failure_reasons"] or []),
        interrupted=bool(row["interrupted"]),
        conflict_job_id=row["conflict_job_id"],
        logs=logs,
    )
