"""Schedule expressions: when a schedule fires.

Two kinds, told apart by their shape:

- a 5-field cron expression (`0 */4 * * *`), read by cronsim, which follows Debian cron across
  daylight-saving changes: a time the clock skips fires once, right after the jump (02:30 on
  the night Madrid goes from 02:00 to 03:00 fires at 03:00); a time the clock passes twice
  fires once, the first time;
- seed 004's intervals (`5 MINUTES`, `1 HOUR`, `6 HOURS`, `1 DAY`, `7 DAYS`, `HOURLY`,
  `DAILY`, `WEEKLY`; any case, singular or plural; `2 WEEKS` too). Slots are start + k *
  interval, from the schedule's start or, without one, its creation. Minutes and hours are
  exact durations; days and weeks are calendar days in the schedule's time zone, so `DAILY`
  from 09:00 stays at 09:00 on both sides of a daylight-saving change.

Every schedule has an IANA time zone (UTC by default) that cron fields and calendar days are
read in, and an optional window: nothing fires before its start or after its end. Nothing can
fire more than once a minute (a cron cannot in 5 fields; an interval below a minute is
refused). Slots are whole minutes or exact anchors, in UTC, as `datetime`s with tzinfo.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from kbsync_core.errors import ScheduleInvalidError

DEFAULT_TIMEZONE = "UTC"
MINIMUM_INTERVAL = timedelta(minutes=1)
MAX_EXPRESSION_LENGTH = 200
CRON_FIELDS = 5
# How many slots a count of missed firings walks at most (a cron every minute, down a year).
MAX_COUNTED_SLOTS = 100_000

_NAMED_INTERVALS = {"HOURLY": (1, "HOUR"), "DAILY": (1, "DAY"), "WEEKLY": (1, "WEEK")}
_INTERVAL = re.compile(r"^\s*(\d+)\s+([A-Za-z]+?)S?\s*$", re.IGNORECASE)
_UNITS = {"SECOND": None, "MINUTE": timedelta(minutes=1), "HOUR": timedelta(hours=1)}
_CALENDAR_UNITS = {"DAY": 1, "WEEK": 7}
_CRON_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
INTERVAL_FORMATS = "N MINUTES, N HOURS, N DAYS, N WEEKS, HOURLY, DAILY or WEEKLY"


def parse_timezone(name: object) -> ZoneInfo:
    """An IANA time zone by its name (`Europe/Madrid`); ScheduleInvalidError otherwise."""
    if name is None or (isinstance(name, str) and not name.strip()):
        return ZoneInfo(DEFAULT_TIMEZONE)
    if not isinstance(name, str):
        raise ScheduleInvalidError(
            "The time zone must be a text such as Europe/Madrid.", "timezone"
        )
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInvalidError(
            f"Unknown time zone {name.strip()!r}: use an IANA name such as Europe/Madrid or UTC.",
            "timezone",
        ) from None


def parse_moment(value: object, zone: ZoneInfo, field: str) -> datetime | None:
    """A window's start or end: ISO 8601, with an offset or `Z`, or without one (then read in
    the schedule's time zone, as seed 004's `2025-06-19T18:00:00`). None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ScheduleInvalidError(
                f"The {field} time {value.strip()!r} is not an ISO 8601 date and time "
                "(2026-06-19T18:00:00, with Z or an offset, or in the schedule's time zone).",
                field,
            ) from None
    else:
        raise ScheduleInvalidError(f"The {field} time must be an ISO 8601 text.", field)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Interval:
    """An interval of seed 004's grammar: an exact duration, or a number of calendar days."""

    duration: timedelta | None = None
    days: int = 0


def parse_interval(text: str) -> Interval | None:
    """The interval `text` says, None if it does not look like one (it may be a cron);
    ScheduleInvalidError for an interval kbsync refuses (a unit it lacks, below a minute)."""
    upper = text.strip().upper()
    if upper in _NAMED_INTERVALS:
        count, unit = _NAMED_INTERVALS[upper]
    else:
        match = _INTERVAL.match(upper)
        if match is None:
            return None
        count, unit = int(match.group(1)), match.group(2).upper()
        if unit not in _UNITS and unit not in _CALENDAR_UNITS:
            raise ScheduleInvalidError(
                f"Unknown interval unit in {text.strip()!r}: use {INTERVAL_FORMATS}.",
                "expression",
            )
    if unit in _CALENDAR_UNITS:
        days = count * _CALENDAR_UNITS[unit]
        if days < 1:
            raise ScheduleInvalidError("An interval must be at least 1 minute.", "expression")
        return Interval(days=days)
    duration = _UNITS[unit] * count if _UNITS[unit] is not None else timedelta(seconds=count)
    if duration < MINIMUM_INTERVAL:
        raise ScheduleInvalidError(
            f"{text.strip()!r} is too often: a schedule fires at most once a minute.",
            "expression",
        )
    return Interval(duration=duration)


def check_cron(text: str) -> str:
    """The cron expression, single-spaced; ScheduleInvalidError naming the field at fault."""
    fields = text.split()
    if len(fields) != CRON_FIELDS:
        raise ScheduleInvalidError(
            f"{text.strip()!r} is neither a cron expression of 5 fields (minute hour "
            f"day-of-month month day-of-week, as 0 */4 * * *) nor an interval "
            f"({INTERVAL_FORMATS}).",
            "expression",
        )
    normalised = " ".join(fields)
    try:
        next(CronSim(normalised, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as error:
        # cronsim says "Bad minute", "Bad day-of-month"...: which field, in its own words.
        raise ScheduleInvalidError(
            f"Cron expression {normalised!r}: {str(error).lower()} field "
            f"(fields: {' '.join(_CRON_FIELD_NAMES)}).",
            "expression",
        ) from None
    except StopIteration:
        raise ScheduleInvalidError(
            f"Cron expression {normalised!r} never fires (a date that does not exist?).",
            "expression",
        ) from None
    return normalised


@dataclass(frozen=True)
class ScheduleSpec:
    """When one schedule fires: its expression (normalised), zone and window, and, for an
    interval, the moment its slots count from (`anchor`: its start, or its creation)."""

    expression: str
    timezone: str
    start: datetime | None
    end: datetime | None
    anchor: datetime
    interval: Interval | None  # None: a cron

    @property
    def is_cron(self) -> bool:
        return self.interval is None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # -- slots -------------------------------------------------------------------------------

    def next_slot(self, after: datetime) -> datetime | None:
        """The first slot strictly after `after`, in the window; None once the window ended."""
        floor = self.start - timedelta(microseconds=1) if self.start else None
        after = max(after, floor) if floor is not None else after
        slot = self._cron_after(after) if self.is_cron else self._interval_after(after)
        if self.end is not None and slot > self.end:
            return None
        return slot

    def next_firings(self, count: int, after: datetime) -> list[datetime]:
        """The next `count` firings after `after` (fewer when the window ends first): what the
        console shows while an operator types an expression."""
        firings: list[datetime] = []
        moment = after
        while len(firings) < count:
            slot = self.next_slot(moment)
            if slot is None:
                break
            firings.append(slot)
            moment = slot
        return firings

    def due_slots(self, first_due: datetime, now: datetime) -> tuple[datetime | None, int]:
        """From a due slot `first_due` (≤ now): the latest slot ≤ now and how many slots
        there are from `first_due` to it, both included (1: nothing was missed); (None, 0)
        when `first_due` is not due yet."""
        cap = min(now, self.end) if self.end is not None else now
        if first_due > cap:
            return None, 0
        if not self.is_cron and self.interval.duration is not None:
            steps = (cap - first_due) // self.interval.duration  # exact durations: arithmetic
            return first_due + self.interval.duration * steps, steps + 1
        latest, count, slot = first_due, 1, self.next_slot(first_due)
        while slot is not None and slot <= cap and count < MAX_COUNTED_SLOTS:
            latest, count, slot = slot, count + 1, self.next_slot(slot)
        return latest, count

    def _cron_after(self, after: datetime) -> datetime:
        local = after.astimezone(self.zone)
        return next(CronSim(self.expression, local)).astimezone(UTC)

    def _interval_after(self, after: datetime) -> datetime:
        interval = self.interval
        if interval.duration is not None:
            if after < self.anchor:
                return self.anchor
            steps = (after - self.anchor) // interval.duration + 1
            return self.anchor + interval.duration * steps
        # Calendar days: the anchor's wall-clock time, every `days` days, in the zone.
        wall = self.anchor.astimezone(self.zone).replace(tzinfo=None)
        if after < self.anchor:
            return self.anchor
        steps = max((after - self.anchor).days // interval.days - 1, 0)
        while True:
            slot = (wall + timedelta(days=interval.days * steps)).replace(tzinfo=self.zone)
            slot = slot.astimezone(UTC)
            if slot > after:
                return slot
            steps += 1


def parse_schedule(
    expression: object,
    timezone: object = None,
    start: object = None,
    end: object = None,
    *,
    anchor: datetime,
) -> ScheduleSpec:
    """Check a schedule as an operator gave it; ScheduleInvalidError names the field at fault.
    `anchor`: when an interval without a start counts from (the schedule's creation)."""
    if not isinstance(expression, str) or not expression.strip():
        raise ScheduleInvalidError(
            f"A schedule needs an expression: a cron (0 */4 * * *) or an interval "
            f"({INTERVAL_FORMATS}).",
            "expression",
        )
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ScheduleInvalidError(
            f"The expression is longer than {MAX_EXPRESSION_LENGTH} characters.", "expression"
        )
    zone = parse_timezone(timezone)
    start_at = parse_moment(start, zone, "start")
    end_at = parse_moment(end, zone, "end")
    if start_at and end_at and end_at <= start_at:
        raise ScheduleInvalidError("The end must come after the start.", "end")
    interval = parse_interval(expression)
    normalised = check_cron(expression) if interval is None else _interval_text(expression)
    return ScheduleSpec(
        expression=normalised,
        timezone=zone.key,
        start=start_at,
        end=end_at,
        anchor=(start_at or anchor).astimezone(UTC),
        interval=interval,
    )


def _interval_text(expression: str) -> str:
    """`5 minutes` → `5 MINUTES`: seed 004's spelling, one space."""
    return " ".join(expression.split()).upper()
