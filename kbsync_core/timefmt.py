"""The two time formats of the seeds: ISO 8601 for fields, es-ES wall-clock time for log lines."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """`2024-03-05T15:00:00.000Z`, as JavaScript's toISOString() writes it (seed 000)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def es_local_time(moment: datetime) -> str:
    """`5/3/2024, 10:00:00`: toLocaleString('es-ES') in the server's local time zone."""
    local = moment.astimezone()
    clock = f"{local.hour}:{local.minute:02d}:{local.second:02d}"
    return f"{local.day}/{local.month}/{local.year}, {clock}"


def log_line(text: str, moment: datetime | None = None) -> str:
    """One execution log line, `[<d/m/yyyy, H:MM:SS>] <text>`."""
    return f"[{es_local_time(moment or utc_now())}] {text}"
