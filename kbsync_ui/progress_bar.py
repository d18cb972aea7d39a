"""A running sync's progress on screen: a bar with its stage and when it should end.

kbsync_core.progress decides the numbers; this only words them, in the operator's language and
the browser's time zone.
"""

import streamlit as st

from kbsync_core.models import Execution
from kbsync_core.progress import Progress
from kbsync_core.runtime import Kbsync
from kbsync_core.timefmt import parse_iso, utc_now
from kbsync_ui.i18n import Texts, format_moment
from kbsync_ui.presentation import format_duration

TEXTS = Texts({
    "starting": ("Starting", "Iniciando"),
    "scanning": ("Scanning documents", "Analizando documentos"),
    "indexing": ("Indexing changes", "Indexando cambios"),
    "finishing": ("Finishing", "Terminando"),
    "documents": (
        "{scanned} of about {expected} documents",
        "{scanned} de unos {expected} documentos",
    ),
    "eta": ("ends in about {duration}, at {moment}", "termina en unos {duration}, a las {moment}"),
    "eta_unknown": (
        "no end estimate yet: this data source has no complete sync to go by",
        "aún sin estimación de fin: este origen de datos no tiene una sincronización completa "
        "de referencia",
    ),
})
SEPARATOR = " · "


def progress_text(progress: Progress) -> str:
    """`Scanning documents · 9 of about 20 documents · ends in about 12 s, at 10:32:05 CET`."""
    parts = [TEXTS(progress.stage)] if progress.stage else []
    if progress.documents_expected:
        parts.append(
            TEXTS(
                "documents",
                scanned=f"{progress.documents_scanned:,}",
                expected=f"{progress.documents_expected:,}",
            )
        )
    if progress.estimated_completion:
        remaining = (parse_iso(progress.estimated_completion) - utc_now()).total_seconds()
        parts.append(
            TEXTS(
                "eta",
                duration=format_duration(max(remaining, 0.0)),
                moment=format_moment(progress.estimated_completion),
            )
        )
    else:
        parts.append(TEXTS("eta_unknown"))
    return SEPARATOR.join(parts)


def render_progress(kbsync: Kbsync, execution: Execution) -> None:
    """The bar of a sync that runs; nothing once it ended (its status says how)."""
    if execution.status.is_final:
        return
    progress = kbsync.progress.of(execution)
    text = progress_text(progress)
    if progress.percentage is None:
        st.caption(text)  # no bar without something to measure against
        return
    st.progress(progress.percentage / 100, text=f"{progress.percentage} %{SEPARATOR}{text}")
