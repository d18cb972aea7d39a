"""Sync: start a knowledge base sync and watch it to its end."""

import streamlit as st

from kbsync_core.models import DEFAULT_DESCRIPTION
from kbsync_core.runtime import get_kbsync
from kbsync_core.validation import (
    DESCRIPTION_MAX_LENGTH,
    RequestValidationError,
    SyncRequest,
    validate_description,
)
from kbsync_ui.auth import OPERATOR_NEEDED, current_access
from kbsync_ui.connection import current_connection
from kbsync_ui.execution_panel import render_execution, render_session_executions
from kbsync_ui.session import current_execution_id, my_execution_ids, remember_execution

kbsync = get_kbsync()
connection = current_connection()
access = current_access(kbsync.settings.roles)

st.title("Sync")
description = st.text_input(
    "Description",
    value=DEFAULT_DESCRIPTION,
    max_chars=DESCRIPTION_MAX_LENGTH,
    key="sync_description",
)
start_help = None
if not access.can_operate:
    start_help = OPERATOR_NEEDED
elif connection is None:
    start_help = "Choose a saved connection or type access keys in the sidebar first."
# The role is checked again on the click: a disabled button is only the browser's side.
if st.button(
    "Start sync",
    type="primary",
    icon=":material/play_arrow:",
    disabled=connection is None or not access.can_operate,
    help=start_help,
) and access.can_operate:
    try:
        request = SyncRequest(
            connection.target, connection.credentials, validate_description(description),
            connection.connection_id, trigger="console",
        )
    except RequestValidationError as error:
        st.error(error.message)
    else:
        remember_execution(kbsync.engine.start_sync(request).id)
if not access.can_operate:
    st.caption(OPERATOR_NEEDED)

if current_execution_id():
    render_execution(kbsync, current_execution_id(), connection, access.can_operate)

render_session_executions(kbsync.store.get_many(my_execution_ids()))
