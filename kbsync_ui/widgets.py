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
    if not events:
        return
    language, zone = current_language(), browser_zone()
    lines = [f"{format_moment(event.at, zone)}  {describe(event, language)}" for event in events]
    st.code("\n".join(lines), language=None, wrap_lines=True, height=LOG_HEIGHT)
