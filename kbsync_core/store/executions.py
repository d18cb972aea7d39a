"""Sync executions (seed 000's records), their log events, and their runs, persisted."""

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import sqlalchemy as sa

from kbsync_core.events import LogEvent
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.store.connections import ConnectionStore
from kbsync_core.store.database import create_database_engine, is_in_memory, upgrade_schema
from kbsync_core.store.ingestion import IngestionStore
from kbsync_core.store.runs import (
    INTERRUPTED,
    Lease,
    RunStore,
    end_within,
    insert_run,
    renew_within,
)
from kbsync_core.store.schedules import ScheduleStore
from kbsync_core.store.schema import execution_logs_table, executions_table, runs_table
from kbsync_core.store.table_jobs import TableJobStore
from kbsync_core.store.tokens import TokenStore
from kbsync_core.store.webhooks import WebhookStore
from kbsync_core.timefmt import iso_utc, utc_now

DEFAULT_LIST_LIMIT = 50
SYNC_KIND = "sync"

# The fields of Execution that are columns (events and target are stored apart; `interrupted`
# is the run's state; `trigger` is written once, with the execution).
UPDATABLE_FIELDS = frozenset(
    {
        "status", "finished_at", "job_id", "aws_status", "statistics", "failure_reasons",
        "conflict_job_id", "description",
    }
)
# Read-only, as every event's values read from the store: shared by the events that have the
# same, so that none can change another's.
_NO_VALUES: Mapping = MappingProxyType({})
UNFINISHED_STATUSES = (ExecutionStatus.PENDIENTE, ExecutionStatus.EN_EJECUCION)

# Every execution read joins its run, for `interrupted`.
_EXECUTION_COLUMNS = [*executions_table.c, (runs_table.c.state == INTERRUPTED).label("interrupted")]
_EXECUTIONS_WITH_RUNS = executions_table.join(runs_table, runs_table.c.id == executions_table.c.id)


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False


class ExecutionStore:
    """Executions, their logs, statistics and failure reasons; and the runs and API tokens
    tables beside them.

    On SQLite, writes of this process go through one lock: SQLite allows one writer at a time,
    and serialising them here is cheaper than waiting on "database is locked". PostgreSQL
    takes concurrent writers as they come.
    """

    def __init__(self, url: str = "sqlite://"):
        self.url = url
        self._engine = create_database_engine(url)
        sqlite = self._engine.dialect.name == "sqlite"
        self._write_lock = threading.RLock() if sqlite else _NoLock()
        # An in-memory database is one connection shared by every thread: reads take turns too.
        self._read_lock = self._write_lock if is_in_memory(url) else _NoLock()
        self._closed = False
        upgrade_schema(self._engine)
        self.runs = RunStore(self._engine, self._write_lock, self._read_lock)
        self.tokens = TokenStore(self._engine, self._write_lock, self._read_lock)
        self.connections = ConnectionStore(self._engine, self._write_lock, self._read_lock)
        self.webhooks = WebhookStore(self._engine, self._write_lock, self._read_lock)
        self.schedules = ScheduleStore(self._engine, self._write_lock, self._read_lock)
        self.ingestion = IngestionStore(self._engine, self._write_lock, self._read_lock)
        self.table_jobs = TableJobStore(self._engine, self._write_lock, self._read_lock)
        self._write_listeners: list[Callable[[str], None]] = []

    @property
    def engine(self) -> sa.engine.Engine:
        return self._engine

    def on_write(self, listener: Callable[[str], None]) -> None:
        """Call `listener(execution_id)` after each write of an execution by this process."""
        self._write_listeners.append(listener)

    # -- writing -----------------------------------------------------------------------------

    def add(
        self,
        execution: Execution,
        *,
        lease: Lease | None = None,
        credential_source: str = "keys",
        profile_name: str | None = None,
        connection_id: str | None = None,
        schedule_id: str | None = None,
    ) -> None:
        """Create the execution and its run, held by `lease` from the start when given;
        `schedule_id`: the schedule that started it."""
        row = {**_row_from_execution(execution), "schedule_id": schedule_id}
        with self._write_lock, self._engine.begin() as connection:
            insert_run(
                connection, execution.id, SYNC_KIND, execution.started_at, lease,
                credential_source, profile_name, connection_id,
            )
            connection.execute(executions_table.insert().values(**row))
            self._insert_events(connection, execution.id, execution.events)

    def record(
        self,
        execution_id: str,
        *,
        log: Iterable[LogEvent] = (),
        lease: Lease | None = None,
        **changes,
    ) -> None:
        """Change fields and append log events of one execution, in one transaction.

        With `lease`, the write happens only if this replica still holds the run (LeaseLostError
        otherwise, and nothing is written), and renews it. A final status ends the run.
        """
        unknown = set(changes) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"Not execution fields: {sorted(unknown)}")
        ends = "status" in changes and ExecutionStatus(changes["status"]).is_final
        if "status" in changes:
            changes["status"] = str(changes["status"])
        changes["updated_at"] = iso_utc(utc_now())
        with self._write_lock, self._engine.begin() as connection:
            if lease is not None:
                renew_within(connection, lease)
            connection.execute(
                executions_table.update()
                .where(executions_table.c.id == execution_id)
                .values(**changes)
            )
            self._insert_events(connection, execution_id, list(log))
            if ends:
                end_within(connection, execution_id)
        for listener in self._write_listeners:
            listener(execution_id)

    @staticmethod
    def _insert_events(connection, execution_id: str, events: list[LogEvent]) -> None:
        if events:
            connection.execute(
                execution_logs_table.insert(),
                [
                    {
                        "execution_id": execution_id,
                        "at": event.at,
                        "event": event.event,
                        "event_values": dict(event.values),
                    }
                    for event in events
                ],
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

    def list_for_connection(
        self, connection_id: str, limit: int = DEFAULT_LIST_LIMIT
    ) -> list[Execution]:
        """The newest executions started from one connection, newest first."""
        return self._select(runs_table.c.connection_id == connection_id, limit=limit)

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

    def list_unfinished(self, target: SyncTarget | None = None) -> list[Execution]:
        """Executions not ended yet, newest first; of one data source when `target` is given."""
        unfinished = executions_table.c.status.in_([str(s) for s in UNFINISHED_STATUSES])
        if target is None:
            return self._select(unfinished)
        return self._select(sa.and_(_target_clause(target), unfinished))

    def list_interrupted(self, target: SyncTarget) -> list[Execution]:
        return self._select(sa.and_(_target_clause(target), runs_table.c.state == INTERRUPTED))

    def versions_of(self, execution_ids: Iterable[str]) -> dict[str, str]:
        """Each execution's last write (its updated_at), in one cheap read without its log:
        what a waiting client's change feed compares to learn of another replica's writes."""
        execution_ids = list(execution_ids)
        if not execution_ids:
            return {}
        query = sa.select(executions_table.c.id, executions_table.c.updated_at).where(
            executions_table.c.id.in_(execution_ids)
        )
        with self._read_lock, self._engine.connect() as connection:
            return dict(connection.execute(query).all())

    def events_of(self, execution_id: str) -> list[LogEvent]:
        """One execution's log, oldest first; [] for an id kbsync does not know."""
        with self._read_lock, self._engine.connect() as connection:
            return self._events_for(connection, [execution_id]).get(execution_id, [])

    def connection_of(self, execution_id: str) -> str | None:
        """The connection the execution's run works with; None for one started with keys or
        the server's own credentials."""
        run = self.runs.get(execution_id)
        return run.connection_id if run else None

    def count(self) -> int:
        with self._read_lock, self._engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(executions_table)
            ).scalar_one()

    def _select(self, where, limit: int | None = None) -> list[Execution]:
        query = (
            sa.select(*_EXECUTION_COLUMNS)
            .select_from(_EXECUTIONS_WITH_RUNS)
            .where(where)
            .order_by(executions_table.c.started_at.desc(), executions_table.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._read_lock, self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
            events = self._events_for(connection, [row["id"] for row in rows])
        return [_execution_from_row(row, events.get(row["id"], [])) for row in rows]

    @staticmethod
    def _events_for(connection, execution_ids: list[str]) -> dict[str, list[LogEvent]]:
        if not execution_ids:
            return {}
        logs = execution_logs_table.c
        result = connection.execute(
            # The values as stored text: most are one of a few ("{}", an AWS status), decoded
            # once per read rather than once per event.
            sa.select(
                logs.execution_id, logs.at, logs.event, sa.cast(logs.event_values, sa.Text)
            )
            .where(logs.execution_id.in_(execution_ids))
            .order_by(logs.id)
        ).all()
        events: dict[str, list[LogEvent]] = {}
        decoded: dict[str | None, Mapping] = {None: _NO_VALUES}
        for execution_id, at, event, stored in result:
            values = decoded.get(stored)
            if values is None:
                values = decoded[stored] = MappingProxyType(json.loads(stored) or {})
            events.setdefault(execution_id, []).append(LogEvent(at, event, values))
        return events

    def close(self) -> None:
        """Idempotent: release the database's connections."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()


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
        "conflict_job_id": execution.conflict_job_id,
        "trigger": execution.trigger,
    }


def _execution_from_row(row, events: list[LogEvent]) -> Execution:
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
        trigger=row["trigger"],
        events=events,
    )
