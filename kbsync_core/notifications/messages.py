"""What a webhook says when a sync ends: one JSON body that Slack's and Microsoft Teams'
incoming webhooks both accept.

The body is `{"text": "..."}` and nothing else. Slack's incoming webhooks take `text` as the
message (blocks are optional); a Teams incoming webhook (an Office 365 connector's MessageCard)
takes a card whose only required field is `text` or `summary`, and Microsoft's own example
posts exactly `{"text": "..."}`. Any further field one of them defines (Slack's `blocks`,
the card's `@type`, `title`, `themeColor`) is one the other was never documented to accept.

Lines are separated by a blank line: Teams renders `text` as Markdown, where a single line
break is not one; Slack shows them as they are. No Markdown emphasis (Slack's `*bold*` and
Teams' `**bold**` differ); `&`, `<` and `>` are escaped as Slack requires (`<...>` is its link
syntax) and Teams, which takes HTML entities in card text, shows them as the characters. The
message is in English: it goes to a channel, not to one operator's console.
"""

from dataclasses import dataclass

from kbsync_core import events
from kbsync_core.logsafety import redact_known_secrets
from kbsync_core.models import Execution, ExecutionStatus
from kbsync_core.timefmt import parse_iso

FAILED = "failed"
STOPPED = "stopped"
COMPLETED = "completed"
TEST = "test"
EVENT_OF_STATUS = {
    ExecutionStatus.FALLIDO: FAILED,
    ExecutionStatus.DETENIDO: STOPPED,
    ExecutionStatus.COMPLETADO: COMPLETED,
}
HEADLINES = {
    FAILED: "Sync FAILED",
    STOPPED: "Sync STOPPED",
    COMPLETED: "Sync completed",
}
# Enough of AWS's failure reasons to act on, not a wall of text in a channel.
MAX_REASONS = 5
MAX_REASON_CHARACTERS = 500
# Events whose `error` says why a sync failed when AWS gave no failure reasons.
ERROR_EVENTS = (events.AWS_ERROR, events.INTERNAL_ERROR, events.SANDBOX_RESTARTED)


@dataclass(frozen=True)
class ConnectionFacts:
    """What a message names of the connection (never its credentials)."""

    id: str
    name: str


def event_of(status: ExecutionStatus) -> str | None:
    return EVENT_OF_STATUS.get(status)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def duration_words(started_at: str, finished_at: str | None) -> str | None:
    if not finished_at:
        return None
    seconds = max(0, round((parse_iso(finished_at) - parse_iso(started_at)).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min {seconds} s"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def _reasons(execution: Execution) -> list[str]:
    """AWS's failure reasons, or kbsync's last error when AWS gave none; secrets kbsync knows
    of taken out, each cut to a readable length."""
    reasons = list(execution.failure_reasons)
    if not reasons and execution.status == ExecutionStatus.FALLIDO:
        errors = [event for event in execution.events if event.event in ERROR_EVENTS]
        if errors:
            reasons = [events.describe(errors[-1], events.ENGLISH)]
    cut = []
    for reason in reasons[:MAX_REASONS]:
        reason = redact_known_secrets(" ".join(str(reason).split()))
        if len(reason) > MAX_REASON_CHARACTERS:
            reason = reason[: MAX_REASON_CHARACTERS - 1] + "…"
        cut.append(reason)
    if len(reasons) > MAX_REASONS:
        cut.append(f"… and {len(reasons) - MAX_REASONS} more")
    return cut


def execution_link(console_url: str | None, execution_id: str) -> str | None:
    return f"{console_url}/?execution={execution_id}" if console_url else None


def sync_message(
    execution: Execution, event: str, connection: ConnectionFacts, console_url: str | None
) -> dict:
    """The body posted for a sync that ended (`event`: failed, stopped or completed)."""
    target = execution.target
    lines = [
        f"kbsync: {HEADLINES[event]} on {connection.name} (connection {connection.id})",
        f"Knowledge base {target.knowledge_base_id}, data source {target.data_source_id}, "
        f"region {target.region}",
        f"AWS job: {execution.job_id or 'none (AWS never started one)'} · "
        f"execution: {execution.id}"
        + (f" · started by: {execution.trigger}" if execution.trigger else ""),
    ]
    duration = duration_words(execution.started_at, execution.finished_at)
    if duration:
        lines.append(f"Duration: {duration} (ended {execution.finished_at})")
    statistics = execution.statistics or {}
    if statistics:
        counted = ", ".join(
            f"{name} {statistics[key]}"
            for key, name in (
                ("numberOfDocumentsScanned", "scanned"),
                ("numberOfNewDocumentsIndexed", "added"),
                ("numberOfModifiedDocumentsIndexed", "modified"),
                ("numberOfDocumentsDeleted", "deleted"),
                ("numberOfDocumentsFailed", "failed"),
            )
            if key in statistics
        )
        if counted:
            lines.append(f"Documents: {counted}")
    reasons = _reasons(execution)
    if reasons:
        lines.append("Failure reasons: " + " | ".join(reasons))
    link = execution_link(console_url, execution.id)
    if link:
        lines.append(f"Open in kbsync: {link}")
    return {"text": "\n\n".join(escape(line) for line in lines)}


def trial_message(connection: ConnectionFacts, console_url: str | None) -> dict:
    """The body posted by a webhook's test: says where it comes from, and that all is well."""
    lines = [
        f"kbsync: test message for the connection {connection.name} ({connection.id})",
        "This webhook will be told when a sync of this connection's data source fails or is "
        "stopped (and completes, if asked).",
    ]
    if console_url:
        lines.append(f"kbsync: {console_url}")
    return {"text": "\n\n".join(escape(line) for line in lines)}
