"""Small pieces both pages draw the same way: a sync's statistics and its log."""

import streamlit as st

from kbsync_core.events import LogEvent, describe
from kbsync_ui.i18n import browser_zone, current_language, format_moment
from kbsync_ui.presentation import STATISTICS_LABELS

LOG_HEIGHT = 320  # pixels: long logs scroll inside the panel instead of stretching the page


def render_statistics(statistics: dict[str, int]) -> None:
    columns = st.columns(len(STATISTICS_LABELS))
    for column, (key, label) in zip(columns, STATISTICS_LABELS.items(), strict=True):
        column.metric(label, statistics.get(key, 0))


def render_log(events: list[LogEvent]) -> None:
    """A sync's log, one line per event (`2026-11-22 23:50:08 CET  Sync completed
    successfully.`), in the console's language and the browser's zone; nothing when empty."""
    if not events:
        return
    language, zone = current_language(), browser_zone()
    lines = [f"{format_moment(event.at, zone)}  {describe(event, language)}" for event in events]
    st.code("\n".join(lines), language=None, wrap_lines=True, height=LOG_HEIGHT)
