"""How executions read on screen: status icons and colours, durations, statistics labels."""

from datetime import datetime

from kbsync_core.models import ExecutionStatus
from kbsync_core.timefmt import parse_iso
from kbsync_ui.i18n import Texts

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


STOPPING = "STOPPING"  # not a seed status: a running sync whose stop was asked for
STATUS_WORDS = Texts({
    ExecutionStatus.PENDIENTE: ("Pending", "Pendiente"),
    ExecutionStatus.EN_EJECUCION: ("Running", "En ejecución"),
    ExecutionStatus.COMPLETADO: ("Completed", "Completado"),
    ExecutionStatus.FALLIDO: ("Failed", "Fallido"),
    ExecutionStatus.DETENIDO: ("Stopped", "Detenido"),
    STOPPING: ("Stopping", "Deteniendo"),
})
STOPPING_ICON = "⏳"


def status_words(status: str) -> str:
    """A status as the operator reads it, in the console's language: `Running`, `Completado`.
    The seeds' codes (EN_EJECUCION...) stay in the JSON API and the CSV's code column."""
    return STATUS_WORDS(status if status == STOPPING else ExecutionStatus(status))


def status_label(status: str) -> str:
    """The words with their icon: `✅ Completed`."""
    icon = STOPPING_ICON if status == STOPPING else STATUS_ICONS[ExecutionStatus(status)]
    return f"{icon} {status_words(status)}"


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
