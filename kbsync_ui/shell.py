"""What every page shares: page set-up, the sandbox banner, the connection sidebar, navigation."""

from pathlib import Path

import streamlit as st

from kbsync_core.runtime import get_kbsync
from kbsync_ui.connection import render_connection_sidebar

# Not "pages/": Streamlit treats a folder of that name beside the entry script as a legacy
# (v1) multipage app and may run a page without the entry script, sidebar and all.
PAGES_DIR = Path(__file__).resolve().parent.parent / "app_pages"
SANDBOX_BANNER = "Sandbox: simulated AWS, nothing leaves this machine"


def run_console() -> None:
    st.set_page_config(page_title="kbsync", page_icon=":material/sync:", layout="wide")
    kbsync = get_kbsync()
    navigation = st.navigation(
        [
            st.Page(PAGES_DIR / "sync.py", title="Sync", icon=":material/sync:", default=True),
            st.Page(PAGES_DIR / "history.py", title="History", icon=":material/history:"),
        ],
        position="top",
    )
    if kbsync.settings.uses_sandbox:
        st.warning(SANDBOX_BANNER, icon=":material/science:")
    render_connection_sidebar(kbsync)
    navigation.run()
