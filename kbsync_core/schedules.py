"""Schedules: made, read, changed, paused, resumed and deleted; what the console and the API
call. When they fire is kbsync_core/schedule_spec.py's; firing them, kbsync_core/scheduler.py's.

A schedule belongs to a connection (the connection gives the target and the server's
credentials, so any replica can fire it). A caller limited to some connections (`visible`)
sees and touches only their schedules; any other is "not found", as with connections.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kbsync_core.connections import Connections
from kbsync_core.errors import ConnectionNotFoundError, ScheduleInvalidError, ScheduleNotFoundError
from kbsync_core.schedule_spec import ScheduleSpec, parse_schedule
from kbsync_core.store.schedules import (
    ORIGIN_API,
    FiringRecord,
    ScheduleRecord,
    ScheduleStore,
)
from kbsync_core.timefmt import iso_utc, parse_iso, utc_now

MAX_NAME_LENGTH = 200
PREVIEW_FIRINGS = 5


@dataclass(frozen=True)
class Schedule:
    """A schedule as shown: its record, with its last firing (None before the first)."""

    record: ScheduleRecord
    last_firing: FiringRecord | None = None

    def to_dict(self) -> dict:
        """kbsync's own /api/schedules shape (seed 003's is in kbsync_api/schedules.py)."""
        record, last = self.record, self.last_firing
        return {
            "id": record.id,
            "connectionId": record.connection_id,
            "name": record.name,
            "expression": record.expression,
            "timezone": record.timezone,
            "startTime": record.start_at,
            "endTime": record.end_at,
            "enabled": record.enabled,
            "nextFiring": record.next_slot_at,
            "lastFiring": None if last is None else firing_dict(last),
            "createdAt": record.created_at,
            "updatedAt": record.updated_at,
        }


def firing_dict(firing: FiringRecord) -> dict:
    return {
        "slot": firing.slot_at,
        "outcome": firing.outcome,
        "executionId": firing.execution_id,
        "attempts": firing.attempts,
        "details": dict(firing.details),
    }


def spec_of(record: ScheduleRecord) -> ScheduleSpec:
    """A stored schedule's spec (it was checked when saved)."""
    return parse_schedule(
        record.expression,
        record.timezone,
        record.start_at,
        record.end_at,
        anchor=parse_iso(record.created_at),
    )


def first_slot(spec: ScheduleSpec, now: datetime) -> str | None:
    """The slot a schedule made, changed or resumed now fires first: the next one after now
    (slots missed while paused are not caught up)."""
    slot = spec.next_slot(now)
    return iso_utc(slot) if slot else None


class Schedules:
    """The schedules of one store. `on_change` is called after each write (the scheduler
    looks again at once rather than at its next tick)."""

    def __init__(
        self,
        store: ScheduleStore,
        connections: Connections,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._store = store
        self._connections = connections
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------

    def list(self, visible: Iterable[str] | None = None) -> list[Schedule]:
        records = self._store.all(None if visible is None else list(visible))
        last = self._store.last_firings(record.id for record in records)
        return [Schedule(record, last.get(record.id)) for record in records]

    def get(self, schedule_id: str, visible: Iterable[str] | None = None) -> Schedule:
        record = self._store.get(schedule_id) if isinstance(schedule_id, str) else None
        if record is None or (visible is not None and record.connection_id not in set(visible)):
            raise ScheduleNotFoundError(schedule_id)
        return Schedule(record, self._store.last_firings([record.id]).get(record.id))

    def firings(self, schedule_id: str, visible: Iterable[str] | None = None, limit: int = 20):
        self.get(schedule_id, visible)
        return self._store.firings(schedule_id, limit)

    def of_connection(self, connection_id: str, origin: str) -> Schedule | None:
        """The connection's one schedule of this origin (seed 003's PUT keeps one)."""
        records = self._store.of_connection(connection_id, origin)
        if not records:
            return None
        return Schedule(records[0], self._store.last_firings([records[0].id]).get(records[0].id))

    def preview(
        self, expression: Any, timezone: Any = None, start: Any = None, end: Any = None
    ) -> list[datetime]:
        """The next five firings of a schedule as typed (ScheduleInvalidError otherwise)."""
        now = self._clock()
        spec = parse_schedule(expression, timezone, start, end, anchor=now)
        return spec.next_firings(PREVIEW_FIRINGS, now)

    def names_of_executions(self, execution_ids: Iterable[str]) -> dict[str, str]:
        """The name of the schedule that started each of these executions (History)."""
        by_execution = self._store.schedules_of_executions(execution_ids)
        names = {record.id: record.name for record in self._store.all()} if by_execution else {}
        return {
            execution_id: names[schedule_id]
            for execution_id, schedule_id in by_execution.items()
            if schedule_id in names
        }

    # -- writing -----------------------------------------------------------------------------

    def create(
        self, payload: Any, visible: Iterable[str] | None = None, origin: str = ORIGIN_API
    ) -> Schedule:
        """A body {connectionId, expression, name?, timezone?, startTime?, endTime?,
        enabled?}; ScheduleInvalidError names the field at fault."""
        body = _body(payload)
        connection_id = self._visible_connection(body.get("connectionId"), visible)
        now = self._clock()
        created = iso_utc(now)
        spec = parse_schedule(
            body.get("expression"),
            body.get("timezone"),
            body.get("startTime"),
            body.get("endTime"),
            anchor=now,
        )
        enabled = _enabled(body.get("enabled", True))
        record = ScheduleRecord(
            id=str(uuid.uuid4()),
            connection_id=connection_id,
            name=_name(body.get("name"), spec),
            expression=spec.expression,
            timezone=spec.timezone,
            start_at=iso_utc(spec.start) if spec.start else None,
            end_at=iso_utc(spec.end) if spec.end else None,
            enabled=enabled,
            next_slot_at=first_slot(spec, now) if enabled else None,
            origin=origin,
            created_at=created,
            updated_at=created,
        )
        self._store.insert(record)
        return Schedule(record)

    def update(
        self, schedule_id: str, payload: Any, visible: Iterable[str] | None = None
    ) -> Schedule:
        """Change what the body gives (the others stay); its slots count again from now."""
        existing = self.get(schedule_id, visible).record
        body = _body(payload)
        current = {
            "expression": existing.expression,
            "timezone": existing.timezone,
            "startTime": existing.start_at,
            "endTime": existing.end_at,
            "enabled": existing.enabled,
            "name": existing.name,
            "connectionId": existing.connection_id,
        }
        merged = {**current, **{k: v for k, v in body.items() if k in current}}
        connection_id = existing.connection_id
        if merged["connectionId"] != existing.connection_id:
            connection_id = self._visible_connection(merged["connectionId"], visible)
        now = self._clock()
        spec = parse_schedule(
            merged["expression"],
            merged["timezone"],
            merged["startTime"],
            merged["endTime"],
            anchor=parse_iso(existing.created_at),
        )
        enabled = _enabled(merged["enabled"])
        record = replace(
            existing,
            connection_id=connection_id,
            name=_name(merged["name"], spec),
            expression=spec.expression,
            timezone=spec.timezone,
            start_at=iso_utc(spec.start) if spec.start else None,
            end_at=iso_utc(spec.end) if spec.end else None,
            enabled=enabled,
            next_slot_at=first_slot(spec, now) if enabled else None,
            updated_at=iso_utc(now),
        )
        if not self._store.update(record):
            raise ScheduleNotFoundError(schedule_id)
        return self.get(schedule_id, visible)

    def set_enabled(
        self, schedule_id: str, enabled: bool, visible: Iterable[str] | None = None
    ) -> Schedule:
        """Pause (no slot fires, none is caught up later) or resume (from the next slot)."""
        return self.update(schedule_id, {"enabled": enabled}, visible)

    def delete(self, schedule_id: str, visible: Iterable[str] | None = None) -> None:
        self.get(schedule_id, visible)
        if not self._store.delete(schedule_id):
            raise ScheduleNotFoundError(schedule_id)

    def _visible_connection(self, connection_id: Any, visible: Iterable[str] | None) -> str:
        if not isinstance(connection_id, str) or not connection_id.strip():
            raise ScheduleInvalidError(
                "A schedule needs the connection it syncs through (connectionId).",
                "connection",
            )
        try:
            return self._connections.get(connection_id, visible).id
        except ConnectionNotFoundError:
            raise ScheduleInvalidError(
                f"There is no connection {connection_id!r}.", "connection"
            ) from None


def _body(payload: Any) -> Mapping:
    if not isinstance(payload, Mapping):
        raise ScheduleInvalidError("The body must be a JSON object.", None)
    return payload


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ScheduleInvalidError("enabled must be true or false.", "enabled")
    return value


def _name(value: Any, spec: ScheduleSpec) -> str:
    """The operator's name for it, or its expression."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return spec.expression
    if not isinstance(value, str) or len(value.strip()) > MAX_NAME_LENGTH:
        raise ScheduleInvalidError(
            f"The name must be a text of at most {MAX_NAME_LENGTH} characters.", "name"
        )
    return value.strip()
