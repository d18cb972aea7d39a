"""What every page shares: page set-up, login and roles, the banners, the connection sidebar,
navigation."""

from pathlib import Path

import streamlit as st

from kbsync_core.runtime import get_kbsync
from kbsync_ui.auth import (
    current_access,
    login_page,
    not_allowed_page,
    open_banner,
    render_identity,
)
from kbsync_ui.connection import render_connection_sidebar
from kbsync_ui.i18n import Texts, render_language_switch

# Not "pages/": Streamlit treats a folder of that name beside the entry script as a legacy
# (v1) multipage app and may run a page without the entry script, sidebar and all.
PAGES_DIR = Path(__file__).resolve().parent.parent / "app_pages"
TEXTS = Texts({
    "sandbox": (
        "Sandbox: simulated AWS, nothing leaves this machine",
        "Sandbox: AWS simulado, nada sale de esta máquina",
    ),
    "sync": ("Sync", "Sincronizar"),
    "history": ("History", "Historial"),
    "connections": ("Connections", "Conexiones"),
    "schedules": ("Schedules", "Programaciones"),
    "ingest": ("Ingest", "Ingesta"),
    "table_jobs": ("Table jobs", "Trabajos de tabla"),
})
# The English banner, as the tests look for it.
SANDBOX_BANNER = TEXTS.both("sandbox")[0]


def run_console() -> None:
    # "auto": the sidebar starts collapsed on a narrow screen (a phone's first screen is the
    # page, whose disabled Start says why under it) and open on a wide one. After a page link
    # in the drawer, Streamlit's frontend closes the drawer on a mobile device (by its user
    # agent); a desktop window made narrow keeps it open: no page setting changes that.
    st.set_page_config(
        page_title="kbsync", page_icon=":material/sync:", layout="wide",
        initial_sidebar_state="auto",
    )
    render_language_switch()
    kbsync = get_kbsync()
    access = current_access(kbsync.settings.roles)
    if access.login_configured and not access.can_read:
        # Not logged in, or on no list: one page, whatever the URL, and none of the console's
        # (nothing that reads the store or acts with the server's identity).
        def refused() -> None:
            not_allowed_page(access)

        gate = login_page if not access.logged_in else refused
        st.navigation([st.Page(gate, title="kbsync", default=True)], position="hidden").run()
        return
    pages = [
        st.Page(
            PAGES_DIR / "sync.py", title=TEXTS("sync"), icon=":material/sync:", default=True
        ),
        st.Page(PAGES_DIR / "history.py", title=TEXTS("history"), icon=":material/history:"),
        st.Page(
            PAGES_DIR / "schedules.py", title=TEXTS("schedules"), icon=":material/schedule:"
        ),
        st.Page(PAGES_DIR / "ingest.py", title=TEXTS("ingest"), icon=":material/upload_file:"),
        st.Page(
            PAGES_DIR / "table_jobs.py", title=TEXTS("table_jobs"), icon=":material/table_view:"
        ),
    ]
    if access.role.can_administer:  # every reader when login is not configured (an admin then)
        pages.append(
            st.Page(
                PAGES_DIR / "connections.py", title=TEXTS("connections"),
                icon=":material/link:",
            )
        )
    navigation = st.navigation(pages, position="top")
    if access.login_configured:
        render_identity(access)
    else:
        st.caption(f":orange[:material/lock_open: {open_banner()}]")
    if kbsync.settings.uses_sandbox:
        st.warning(TEXTS("sandbox"), icon=":material/science:")
    render_connection_sidebar(kbsync)
    navigation.run()
