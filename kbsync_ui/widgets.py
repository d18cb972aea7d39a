"""Small pieces both pages draw the same way: a sync's statistics and its log."""

import streamlit as st

from kbsync_core.events import LogEvent, describe
from kbsync_ui.i18n import Texts, browser_zone, current_language, format_moment
from kbsync_ui.presentation import STATISTICS_LABELS

# AWS's statistics, in the order an operator reads them (STATISTICS_LABELS'), in both languages.
STATISTICS_TEXTS = Texts({
    "numberOfDocumentsScanned": ("Scanned", "Analizados"),
    "numberOfNewDocumentsIndexed": ("New", "Nuevos"),
    "numberOfModifiedDocumentsIndexed": ("Modified", "Modificados"),
    "numberOfDocumentsDeleted": ("Deleted", "Eliminados"),
    "numberOfDocumentsFailed": ("Failed", "Fallidos"),
    "numberOfMetadataDocumentsScanned": ("Metadata", "Metadatos"),
})
STATISTICS_SEPARATOR = " · "
LOG_HEIGHT = 320  # pixels: long logs scroll inside the panel instead of stretching the page


def statistics_line(statistics: dict[str, int]) -> str:
    """`Scanned **20** · New **20** · ...`: six counters in one line that wraps on a phone,
    instead of six metrics stacked a screen high."""
    return STATISTICS_SEPARATOR.join(
        f"{STATISTICS_TEXTS(key)} **{statistics.get(key, 0):,}**" for key in STATISTICS_LABELS
    )


def render_statistics(statistics: dict[str, int]) -> None:
    st.markdown(statistics_line(statistics))


def render_log(events: list[LogEvent]) -> None:
    """A sync's log, one line per event (`2026-11-22 23:50:08 CET  Sync completed
    successfully.`), in the console's language and the browser's zone; nothing when empty."""
    render_log_text(log_text(events))


def log_text(events: list[LogEvent]) -> str:
    """The log's lines as render_log shows them (built apart, so a live panel can keep them)."""
    language, zone = current_language(), browser_zone()
    return "\n".join(
        f"{format_moment(event.at, zone)}  {describe(event, language)}" for event in events
    )


def render_log_text(text: str) -> None:
    if text:
        st.code(text, language=None, wrap_lines=True, height=LOG_HEIGHT)
