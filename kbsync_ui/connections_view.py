"""The Connections page's pieces: the list, a connection's test, and (for admins) the form that
adds or edits one and the delete button.

The form asks where the identity comes from (default chain, a profile, a role), never for a
secret: the core refuses one anyway. Its messages are the core's, shown next to the form.
"""

from contextlib import suppress

import pandas as pd
import streamlit as st

from kbsync_core.connections import CREDENTIAL_TYPES, Connection, Connections
from kbsync_core.errors import (
    AwsRequestError,
    ConnectionExistsError,
    ConnectionInUseError,
    ConnectionInvalidError,
    ConnectionNotFoundError,
)

CREDENTIAL_LABELS = {
    "default": "Default (the server's own credentials)",
    "profile": "A profile of the server",
    "role": "A role the server assumes",
}
PICK_KEY = "connections_pick"
# What the list picks on the next run (set after a change, before the pick list is drawn).
PICK_NEXT_KEY = "connections_pick_next"
DELETE_PENDING_KEY = "connections_delete_pending"
NOTICE_KEY = "connections_notice"


def form_key(prefix: str, field: str) -> str:
    """A form widget's key: `prefix` is "add", or "edit-<id>" (a fresh form per connection)."""
    return f"connection_form_{prefix}_{field}"


def render_connection_list(connections: list[Connection]) -> None:
    rows = [
        {
            "ID": connection.id,
            "Name": connection.name,
            "Region": connection.target.region,
            "Knowledge base": connection.target.knowledge_base_id,
            "Data source": connection.target.data_source_id,
            "Credentials": connection.credentials.get("type"),
        }
        for connection in connections
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def pick_connection(connections: list[Connection]) -> Connection | None:
    by_id = {connection.id: connection for connection in connections}
    if PICK_NEXT_KEY in st.session_state:
        st.session_state[PICK_KEY] = st.session_state.pop(PICK_NEXT_KEY)
    if st.session_state.get(PICK_KEY) not in by_id:
        st.session_state.pop(PICK_KEY, None)
    chosen = st.selectbox(
        "Connection", list(by_id), key=PICK_KEY, index=0 if by_id else None,
        format_func=lambda identifier: f"{identifier} — {by_id[identifier].name}",
    )
    return by_id.get(chosen)


def render_notice() -> None:
    """What the last add, edit or delete did (it reran the page to show the new list)."""
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")


def render_test(service: Connections, connection: Connection) -> None:
    """Test: GetKnowledgeBase and GetDataSource with the connection's credentials."""
    if not st.button("Test", icon=":material/network_check:", key="connections_test"):
        return
    try:
        result = service.test(connection.id)
    except (AwsRequestError, ConnectionNotFoundError) as error:
        st.error(str(error), icon=":material/error:")
        return
    base, source = result["knowledgeBase"], result["dataSource"]
    lines = [
        f"Knowledge base **{base['name']}** (`{base['id']}`): {base['status']}",
        f"Data source **{source['name']}** (`{source['id']}`): {source['status']}, "
        f"type {source['type']}",
    ]
    if "bucket" in source:
        prefixes = ", ".join(f"`{prefix}`" for prefix in source["inclusionPrefixes"]) or "none"
        lines.append(f"Bucket `{source['bucket']}`, inclusion prefixes: {prefixes}")
    st.success("  \n".join(lines), icon=":material/check_circle:")


def _credentials_fields(prefix: str, current: dict) -> dict:
    kind = st.selectbox(
        "Credentials", CREDENTIAL_TYPES, key=form_key(prefix, "type"),
        index=CREDENTIAL_TYPES.index(current.get("type", "default")),
        format_func=CREDENTIAL_LABELS.get,
    )
    source = {"type": kind}
    if kind == "profile":
        source["profile"] = st.text_input(
            "Profile", value=current.get("profile", ""), key=form_key(prefix, "profile")
        )
    elif kind == "role":
        for field, label in (
            ("roleArn", "Role ARN"), ("externalId", "External ID (optional)"),
            ("sessionName", "Session name (optional)"),
        ):
            source[field] = st.text_input(
                label, value=current.get(field, ""), key=form_key(prefix, field)
            )
    return source


def render_form(service: Connections, connection: Connection | None) -> None:
    """Add (connection None) or edit one connection; on success the page reruns."""
    prefix = "add" if connection is None else f"edit-{connection.id}"
    current = connection.to_dict() if connection else {}
    payload = {
        "id": st.text_input(
            "ID", value=current.get("id", ""), key=form_key(prefix, "id"),
            disabled=connection is not None, help="Lowercase letters, digits and hyphens.",
        ),
    }
    for field, label in (
        ("name", "Name"), ("region", "Region"), ("knowledgeBaseId", "Knowledge base ID"),
        ("dataSourceId", "Data source ID"),
    ):
        payload[field] = st.text_input(label, value=current.get(field, ""),
                                       key=form_key(prefix, field))
    payload["credentials"] = _credentials_fields(prefix, current.get("credentials", {}))
    label = "Add connection" if connection is None else "Save changes"
    if not st.button(label, type="primary", key=form_key(prefix, "save")):
        return
    try:
        if connection is None:
            saved = service.create(payload)
        else:
            saved = service.update(connection.id, payload)
    except (ConnectionInvalidError, ConnectionExistsError, ConnectionNotFoundError) as error:
        st.error(str(error), icon=":material/error:")
        return
    if connection is None:  # an empty form for the next one
        for key in [key for key in st.session_state if str(key).startswith(form_key(prefix, ""))]:
            del st.session_state[key]
    st.session_state[NOTICE_KEY] = f"Saved the connection {saved.id}."
    st.session_state[PICK_NEXT_KEY] = saved.id
    st.rerun()


def render_delete(service: Connections, connection: Connection) -> None:
    """Delete, after a second click that names the connection."""
    if st.button("Delete", icon=":material/delete:", key="connections_delete"):
        st.session_state[DELETE_PENDING_KEY] = connection.id
    if st.session_state.get(DELETE_PENDING_KEY) != connection.id:
        return
    st.warning(f"Delete the connection {connection.id}? Syncs it started keep their history.")
    if st.button(f"Yes, delete {connection.id}", type="primary", key="connections_delete_yes"):
        st.session_state.pop(DELETE_PENDING_KEY, None)
        try:
            with suppress(ConnectionNotFoundError):  # deleted meanwhile: the same outcome
                service.delete(connection.id)
        except ConnectionInUseError as error:
            st.error(str(error), icon=":material/error:")
            return
        st.session_state[NOTICE_KEY] = f"Deleted the connection {connection.id}."
        st.session_state[PICK_NEXT_KEY] = None
        st.rerun()
