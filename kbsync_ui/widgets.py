"""Small pieces both pages draw the same way: a sync's statistics and its log."""

import streamlit as st

from kbsync_ui.presentation import STATISTICS_LABELS

LOG_HEIGHT = 320  # pixels: long logs scroll inside the panel instead of stretching the page


def render_statistics(statistics: dict[str, int]) -> None:
    columns = st.columns(len(STATISTICS_LABELS))
    for column, (key, label) in zip(columns, STATISTICS_LABELS.items(), strict=True):
        column.metric(label, statistics.get(key, 0))


def render_log(lines: list[str]) -> None:
    st.code("\n".join(lines), language=None, wrap_lines=True, height=LOG_HEIGHT)
