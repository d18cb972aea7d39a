"""How executions read on screen: status icons and colours, durations, statistics labels."""

from datetime import datetime

from kbsync_core.models import ExecutionStatus
from kbsync_core.timefmt import parse_iso

STATUS_ICONS = {
    ExecutionStatus.PENDIENTE: "🕓",
    ExecutionStatus.EN_EJECUCION: "🔄",
    ExecutionStatus.COMPLETADO: "✅",
    ExecutionStatus.FALLIDO: "❌",
    ExecutionStatus.DETENIDO: "⏹️",
}
STATUS_COLORS = {
    ExecutionStatus.PENDIENTE: "gray",
    ExecutionStatus.EN_EJECUCION: "blue",
    ExecutionStatus.COMPLETADO: "green",
    ExecutionStatus.FALLIDO: "red",
    ExecutionStatus.DETENIDO: "orange",
}
# AWS's statistics, in the order and words an operator reads them.
STATISTICS_LABELS = {
    "numberOfDocumentsScanned": "Scanned",
    "numberOfNewDocumentsIndexed": "New",
    "numberOfModifiedDocumentsIndexed": "Modified",
    "numberOfDocumentsDeleted": "Deleted",
    "numberOfDocumentsFailed": "Failed",
    "numberOfMetadataDocumentsScanned": "Metadata",
}


def status_label(status: str) -> str:
    status = ExecutionStatus(status)
    return f"{STATUS_ICONS[status]} {status}"


def format_duration(seconds: float | None) -> str:
    """`42 s`, `3 min 05 s`, `1 h 02 min`: short enough for a table cell."""
    if seconds is None or seconds != seconds:  # None or NaN: not finished
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def elapsed_seconds(started_at: str, finished_at: str | None, now: datetime) -> float:
    end = parse_iso(finished_at) if finished_at else now
    return max(0.0, (end - parse_iso(started_at)).total_seconds())
