"""The schedules' JSON API, framework-free like contract.py: kbsync's own /api/schedules, and
seed 003's GET/PUT /api/sync/schedules (one schedule per channel, channel_id = connection id).

Each function takes what the request carried and the process's Kbsync and returns an ApiReply;
kbsync_api.routes reads the request and writes the reply. The core's errors become statuses
here: ScheduleInvalidError 400 (naming the field), ScheduleNotFoundError 404.
"""

from collections.abc import Mapping
from typing import Any

from kbsync_api.contract import ApiReply, error_reply, identity_denial
from kbsync_core.errors import ScheduleInvalidError, ScheduleNotFoundError
from kbsync_core.runtime import Kbsync
from kbsync_core.schedules import Schedule, firing_dict
from kbsync_core.store.schedules import ORIGIN_API, ORIGIN_SYNC_API

SCHEDULE_NOT_FOUND = "No schedule has the id {id!r}."
CHANNEL_ID_REQUIRED = "channel_id is required: the id of the connection to sync on a schedule."
SCHEDULE_REQUIRED = (
    "schedule is required: a cron expression (0 */2 * * *) or an interval (5 MINUTES, HOURLY...)."
)
# Seed 003's names for kbsync's fields in a PUT /api/sync/schedules body.
SEED_FIELDS = {
    "schedule": "expression",
    "enabled": "enabled",
    "timezone": "timezone",
    "start_time": "startTime",
    "end_time": "endTime",
}
# The core's field names (ScheduleInvalidError.field) as seed 003's body calls them.
SEED_FIELD_NAMES = {
    "expression": "schedule",
    "connection": "channel_id",
    "start": "start_time",
    "end": "end_time",
}


def _schedule_call(function) -> ApiReply:
    """A schedule operation, its domain errors as statuses (400 naming the field, 404)."""
    try:
        return function()
    except ScheduleInvalidError as error:
        body = {"error": error.message}
        if error.field:
            body["field"] = error.field
        return ApiReply(400, body)
    except ScheduleNotFoundError as error:
        return error_reply(404, SCHEDULE_NOT_FOUND.format(id=str(error.args[0])))


# -- kbsync's /api/schedules -----------------------------------------------------------------


def list_schedules(kbsync: Kbsync, visible: tuple[str, ...] | None = None) -> ApiReply:
    """GET /api/schedules: those of the connections the token may use."""
    listed = kbsync.schedules.list(visible)
    return ApiReply(200, {"schedules": [schedule.to_dict() for schedule in listed]})


def create_schedule(kbsync: Kbsync, payload: Any, visible=None) -> ApiReply:
    """POST /api/schedules: 201 with the schedule. Fires through its connection: like the
    connections, it acts with the server's identity."""
    return identity_denial(kbsync) or _schedule_call(
        lambda: ApiReply(201, kbsync.schedules.create(payload, visible, ORIGIN_API).to_dict())
    )


def get_schedule(kbsync: Kbsync, schedule_id: str, visible=None) -> ApiReply:
    """GET /api/schedules/{id}: the schedule, with its recent firings."""

    def get() -> ApiReply:
        schedule = kbsync.schedules.get(schedule_id, visible)
        firings = kbsync.schedules.firings(schedule_id, visible)
        return ApiReply(200, {**schedule.to_dict(), "firings": [firing_dict(f) for f in firings]})

    return _schedule_call(get)


def update_schedule(kbsync: Kbsync, schedule_id: str, payload: Any, visible=None) -> ApiReply:
    """PUT /api/schedules/{id}: the fields given change (`enabled: false` pauses it, `true`
    resumes it from its next slot); the others stay."""
    return identity_denial(kbsync) or _schedule_call(
        lambda: ApiReply(200, kbsync.schedules.update(schedule_id, payload, visible).to_dict())
    )


def delete_schedule(kbsync: Kbsync, schedule_id: str, visible=None) -> ApiReply:
    """DELETE /api/schedules/{id}: 204; the syncs it started keep their history."""

    def delete() -> ApiReply:
        kbsync.schedules.delete(schedule_id, visible)
        return ApiReply(204, {})

    return _schedule_call(delete)


def run_schedule_now(kbsync: Kbsync, schedule_id: str, visible=None) -> ApiReply:
    """POST /api/schedules/{id}/run: a sync now through the schedule's connection, as the
    schedule would start it (its log and History name the schedule): 202 {"executionId"} ·
    409 while a sync runs on the data source."""

    def run() -> ApiReply:
        schedule = kbsync.schedules.get(schedule_id, visible)
        outcome = kbsync.scheduler.run_now(schedule.record)
        if outcome.execution_id is None:
            return error_reply(409, outcome.reason)
        return ApiReply(202, {"executionId": outcome.execution_id})

    return identity_denial(kbsync) or _schedule_call(run)


# -- seed 003's /api/sync/schedules ----------------------------------------------------------


def seed_schedule(schedule: Schedule) -> dict:
    """Seed 003's shape: channel_id, schedule, enabled, next_sync, last_sync; and kbsync's
    timezone, start_time and end_time. Times are ISO 8601 UTC (`Z`)."""
    record, last = schedule.record, schedule.last_firing
    return {
        "channel_id": record.connection_id,
        "schedule": record.expression,
        "enabled": record.enabled,
        "next_sync": _seconds_z(record.next_slot_at),
        "last_sync": _seconds_z(last.slot_at) if last else None,
        "timezone": record.timezone,
        "start_time": _seconds_z(record.start_at),
        "end_time": _seconds_z(record.end_at),
    }


def _seconds_z(moment: str | None) -> str | None:
    """`2026-04-13T14:00:00Z`, as seed 003 writes times (kbsync stores milliseconds)."""
    if moment is None or not moment.endswith(".000Z"):
        return moment
    return moment.removesuffix(".000Z") + "Z"


def list_sync_schedules(kbsync: Kbsync, visible: tuple[str, ...] | None = None) -> ApiReply:
    """GET /api/sync/schedules (seed 003): every schedule of the visible connections (one per
    channel made here; those made in the console or /api/schedules are listed too)."""
    listed = kbsync.schedules.list(visible)
    return ApiReply(200, {"schedules": [seed_schedule(schedule) for schedule in listed]})


def put_sync_schedule(kbsync: Kbsync, payload: Any, visible=None) -> ApiReply:
    """PUT /api/sync/schedules (seed 003): create or change the channel's one schedule made
    through this endpoint; 200 with it in seed 003's shape."""
    denial = identity_denial(kbsync)
    if denial is not None:
        return denial
    if not isinstance(payload, Mapping):
        return error_reply(400, "The request body must be a JSON object.")
    channel_id = payload.get("channel_id")
    if not isinstance(channel_id, str) or not channel_id.strip():
        return ApiReply(400, {"error": CHANNEL_ID_REQUIRED, "field": "channel_id"})
    body = {kbsync_name: payload[seed_name] for seed_name, kbsync_name in SEED_FIELDS.items()
            if seed_name in payload}
    body["connectionId"] = channel_id

    def put() -> ApiReply:
        existing = kbsync.schedules.of_connection(channel_id, ORIGIN_SYNC_API)
        if existing is not None and _sees(existing, visible):
            changed = kbsync.schedules.update(existing.record.id, body, visible)
            return ApiReply(200, {"schedule": seed_schedule(changed)})
        if "expression" not in body:
            return ApiReply(400, {"error": SCHEDULE_REQUIRED, "field": "schedule"})
        created = kbsync.schedules.create(body, visible, ORIGIN_SYNC_API)
        return ApiReply(200, {"schedule": seed_schedule(created)})

    reply = _schedule_call(put)
    if reply.status == 400 and reply.body.get("field") in SEED_FIELD_NAMES:
        # Name the field as the client sent it.
        reply.body["field"] = SEED_FIELD_NAMES[reply.body["field"]]
    return reply


def _sees(schedule: Schedule, visible: tuple[str, ...] | None) -> bool:
    return visible is None or schedule.record.connection_id in visible
