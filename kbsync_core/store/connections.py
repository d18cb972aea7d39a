"""The connections table: one row per saved target; never a secret (kbsync_core.connections
checks that before anything is written)."""

from dataclasses import dataclass

import sqlalchemy as sa

from kbsync_core.store.runs import ENDED
from kbsync_core.store.schema import connections_table, runs_table, schedules_table


@dataclass(frozen=True)
class ConnectionRecord:
    id: str
    name: str
    region: str
    knowledge_base_id: str
    data_source_id: str
    credentials: dict
    created_at: str
    updated_at: str


class ConnectionIdTakenError(ValueError):
    """Another connection has that id."""


class ConnectionHasRunsError(ValueError):
    """Runs started from the connection have not ended; their ids are `run_ids`."""

    def __init__(self, run_ids: list[str]):
        super().__init__(", ".join(run_ids))
        self.run_ids = run_ids


class ConnectionHasSchedulesError(ValueError):
    """Schedules run syncs through the connection; their names are `names`."""

    def __init__(self, names: list[str]):
        super().__init__(", ".join(names))
        self.names = names


class ConnectionStore:
    """One short statement per operation, under the store's locks (see ExecutionStore)."""

    def __init__(self, engine: sa.engine.Engine, write_lock, read_lock):
        self._engine = engine
        self._write_lock = write_lock
        self._read_lock = read_lock

    def insert(self, record: ConnectionRecord) -> None:
        try:
            with self._write_lock, self._engine.begin() as connection:
                connection.execute(connections_table.insert().values(**record.__dict__))
        except sa.exc.IntegrityError:
            raise ConnectionIdTakenError(record.id) from None

    def update(self, record: ConnectionRecord) -> bool:
        """False when no connection has the record's id (created_at is kept as stored)."""
        values = {k: v for k, v in record.__dict__.items() if k not in ("id", "created_at")}
        statement = (
            connections_table.update().where(connections_table.c.id == record.id).values(**values)
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def delete(self, connection_id: str) -> bool:
        """False when there is no such connection; ConnectionHasRunsError while a run started
        from it has not ended (a replica taking it over needs the connection's credentials);
        ConnectionHasSchedulesError while schedules sync through it (deleting the connection
        would silently end them: the operator deletes them first, knowingly)."""
        unfinished = (
            sa.select(runs_table.c.id)
            .where(runs_table.c.connection_id == connection_id, runs_table.c.state != ENDED)
            .order_by(runs_table.c.created_at)
        )
        statement = connections_table.delete().where(connections_table.c.id == connection_id)
        with self._write_lock, self._engine.begin() as connection:
            run_ids = list(connection.execute(unfinished).scalars())
            if run_ids:
                raise ConnectionHasRunsError(run_ids)
            schedules = sa.select(schedules_table.c.name).where(
                schedules_table.c.connection_id == connection_id
            )
            names = list(connection.execute(schedules.order_by(schedules_table.c.name)).scalars())
            if names:
                raise ConnectionHasSchedulesError(names)
            return connection.execute(statement).rowcount == 1

    def get(self, connection_id: str) -> ConnectionRecord | None:
        query = sa.select(connections_table).where(connections_table.c.id == connection_id)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _record(row) if row else None

    def all(self) -> list[ConnectionRecord]:
        query = sa.select(connections_table).order_by(connections_table.c.id)
        with self._read_lock, self._engine.connect() as connection:
            return [_record(row) for row in connection.execute(query).mappings()]


def _record(row) -> ConnectionRecord:
    return ConnectionRecord(
        id=row["id"],
        name=row["name"],
        region=row["region"],
        knowledge_base_id=row["knowledge_base_id"],
        data_source_id=row["data_source_id"],
        credentials=dict(row["credentials"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
