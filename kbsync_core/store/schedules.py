"""The schedules and schedule_firings tables: what schedules there are, which slot each fires
next, and every slot a replica claimed (the UNIQUE (schedule, slot) row is the claim)."""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from kbsync_core.store.schema import executions_table, schedule_firings_table, schedules_table

# A firing's outcomes (schema.py says what each means).
STARTING = "starting"
RETRYING = "retrying"
STARTED = "started"
SKIPPED = "skipped"
FAILED = "failed"
OUTCOMES = (STARTING, RETRYING, STARTED, SKIPPED, FAILED)

# Who made a schedule: the console, /api/schedules, or seed 003's PUT /api/sync/schedules.
ORIGIN_CONSOLE = "console"
ORIGIN_API = "api"
ORIGIN_SYNC_API = "sync_api"


@dataclass(frozen=True)
class ScheduleRecord:
    id: str
    connection_id: str
    name: str
    expression: str
    timezone: str
    start_at: str | None
    end_at: str | None
    enabled: bool
    next_slot_at: str | None
    origin: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class FiringRecord:
    id: int
    schedule_id: str
    slot_at: str
    outcome: str
    execution_id: str | None
    claimed_by: str
    claimed_at: str
    updated_at: str
    retry_at: str | None
    attempts: int
    details: dict = field(default_factory=dict)


class ScheduleStore:
    """One short statement per operation, under the store's locks (see ExecutionStore)."""

    def __init__(self, engine: sa.engine.Engine, write_lock, read_lock):
        self._engine = engine
        self._write_lock = write_lock
        self._read_lock = read_lock

    # -- schedules ---------------------------------------------------------------------------

    def insert(self, record: ScheduleRecord) -> None:
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(schedules_table.insert().values(**record.__dict__))

    def update(self, record: ScheduleRecord) -> bool:
        """False when no schedule has the record's id (created_at and origin are kept)."""
        values = {
            k: v for k, v in record.__dict__.items() if k not in ("id", "created_at", "origin")
        }
        statement = schedules_table.update().where(schedules_table.c.id == record.id)
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement.values(**values)).rowcount == 1

    def delete(self, schedule_id: str) -> bool:
        """The schedule and its firings (its syncs keep their history)."""
        with self._write_lock, self._engine.begin() as connection:
            # Explicitly, not by the foreign key's cascade: SQLite enforces it only per
            # connection setting, and this must hold everywhere.
            connection.execute(
                schedule_firings_table.delete().where(
                    schedule_firings_table.c.schedule_id == schedule_id
                )
            )
            statement = schedules_table.delete().where(schedules_table.c.id == schedule_id)
            return connection.execute(statement).rowcount == 1

    def get(self, schedule_id: str) -> ScheduleRecord | None:
        query = sa.select(schedules_table).where(schedules_table.c.id == schedule_id)
        with self._read_lock, self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _schedule(row) if row else None

    def all(self, connection_ids: Iterable[str] | None = None) -> list[ScheduleRecord]:
        """Every schedule, or those of these connections; by connection, then creation."""
        query = sa.select(schedules_table).order_by(
            schedules_table.c.connection_id, schedules_table.c.created_at, schedules_table.c.id
        )
        if connection_ids is not None:
            query = query.where(schedules_table.c.connection_id.in_(list(connection_ids)))
        with self._read_lock, self._engine.connect() as connection:
            return [_schedule(row) for row in connection.execute(query).mappings()]

    def of_connection(self, connection_id: str, origin: str | None = None) -> list[ScheduleRecord]:
        return [
            record
            for record in self.all([connection_id])
            if origin is None or record.origin == origin
        ]

    def due(self, now: str) -> list[ScheduleRecord]:
        """The schedules whose next slot is due: one query on ix_schedules_next_slot_at."""
        query = (
            sa.select(schedules_table)
            .where(schedules_table.c.next_slot_at <= now)
            .order_by(schedules_table.c.next_slot_at)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_schedule(row) for row in connection.execute(query).mappings()]

    def advance(self, schedule_id: str, expected: str, next_slot_at: str | None) -> bool:
        """Move a schedule's next slot on from `expected`; False if someone moved it first
        (another replica's tick, an edit): the caller reads it again."""
        statement = (
            schedules_table.update()
            .where(schedules_table.c.id == schedule_id, schedules_table.c.next_slot_at == expected)
            .values(next_slot_at=next_slot_at)
        )
        with self._write_lock, self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    # -- firings -----------------------------------------------------------------------------

    def claim(self, firing: FiringRecord) -> FiringRecord | None:
        """Insert the (schedule, slot) row: the firing is this replica's. None when the slot
        was claimed already (by another replica, or before a restart)."""
        values = {k: v for k, v in firing.__dict__.items() if k != "id"}
        try:
            with self._write_lock, self._engine.begin() as connection:
                result = connection.execute(schedule_firings_table.insert().values(**values))
                firing_id = result.inserted_primary_key[0]
        except sa.exc.IntegrityError:
            return None
        return replace(firing, id=firing_id)

    def retake(self, firing: FiringRecord, retry_at: str | None, now: str) -> FiringRecord | None:
        """Take up a firing due again (its quota backoff ended, or its replica died while
        starting it), if nobody took it first: the firing as taken, or None."""
        firings = schedule_firings_table.c
        statement = (
            schedule_firings_table.update()
            .where(firings.id == firing.id, firings.retry_at == firing.retry_at)
            .values(retry_at=retry_at, attempts=firing.attempts + 1, updated_at=now)
        )
        with self._write_lock, self._engine.begin() as connection:
            if connection.execute(statement).rowcount != 1:
                return None
        return replace(firing, retry_at=retry_at, attempts=firing.attempts + 1, updated_at=now)

    def record(self, firing_id: int, **changes) -> None:
        """Change a firing's outcome, execution, retry_at, details or updated_at."""
        statement = schedule_firings_table.update().where(schedule_firings_table.c.id == firing_id)
        with self._write_lock, self._engine.begin() as connection:
            connection.execute(statement.values(**changes))

    def due_firings(self, now: str) -> list[FiringRecord]:
        """Firings to look at again now: one query on ix_schedule_firings_retry_at."""
        query = (
            sa.select(schedule_firings_table)
            .where(schedule_firings_table.c.retry_at <= now)
            .order_by(schedule_firings_table.c.retry_at)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_firing(row) for row in connection.execute(query).mappings()]

    def firings(self, schedule_id: str, limit: int = 50) -> list[FiringRecord]:
        """A schedule's firings, newest slot first."""
        query = (
            sa.select(schedule_firings_table)
            .where(schedule_firings_table.c.schedule_id == schedule_id)
            .order_by(schedule_firings_table.c.slot_at.desc())
            .limit(limit)
        )
        with self._read_lock, self._engine.connect() as connection:
            return [_firing(row) for row in connection.execute(query).mappings()]

    def last_firings(self, schedule_ids: Iterable[str]) -> dict[str, FiringRecord]:
        """Each schedule's latest firing (by slot), for the lists' "last firing" column."""
        schedule_ids = list(schedule_ids)
        if not schedule_ids:
            return {}
        firings = schedule_firings_table.c
        latest = (
            sa.select(firings.schedule_id, sa.func.max(firings.slot_at).label("slot_at"))
            .where(firings.schedule_id.in_(schedule_ids))
            .group_by(firings.schedule_id)
            .subquery()
        )
        query = sa.select(schedule_firings_table).join(
            latest,
            sa.and_(
                firings.schedule_id == latest.c.schedule_id, firings.slot_at == latest.c.slot_at
            ),
        )
        with self._read_lock, self._engine.connect() as connection:
            return {
                row["schedule_id"]: _firing(row) for row in connection.execute(query).mappings()
            }

    def schedules_of_executions(self, execution_ids: Iterable[str]) -> dict[str, str]:
        """The schedule that started each of these executions (those a schedule started)."""
        execution_ids = list(execution_ids)
        if not execution_ids:
            return {}
        query = sa.select(executions_table.c.id, executions_table.c.schedule_id).where(
            executions_table.c.id.in_(execution_ids), executions_table.c.schedule_id.is_not(None)
        )
        with self._read_lock, self._engine.connect() as connection:
            return dict(connection.execute(query).all())


def _schedule(row) -> ScheduleRecord:
    return ScheduleRecord(**{column.name: row[column.name] for column in schedules_table.c})


def _firing(row) -> FiringRecord:
    values = {column.name: row[column.name] for column in schedule_firings_table.c}
    values["details"] = dict(values["details"] or {})
    return FiringRecord(**values)
