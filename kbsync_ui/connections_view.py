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
from kbsync_ui.i18n import Texts

TEXTS = Texts({
    "default": ("Default (the server's own credentials)",
                "Predeterminadas (las credenciales del propio servidor)"),
    "profile": ("A profile of the server", "Un perfil del servidor"),
    "role": ("A role the server assumes", "Un rol que asume el servidor"),
    "id": ("ID", "ID"),
    "name": ("Name", "Nombre"),
    "region": ("Region", "Región"),
    "knowledge_base": ("Knowledge base", "Base de conocimiento"),
    "knowledge_base_id": ("Knowledge base ID", "ID de la base de conocimiento"),
    "data_source": ("Data source", "Origen de datos"),
    "data_source_id": ("Data source ID", "ID del origen de datos"),
    "credentials": ("Credentials", "Credenciales"),
    "connection": ("Connection", "Conexión"),
    "choose": ("Choose a connection", "Elija una conexión"),
    "test": ("Test", "Probar"),
    "tested_base": ("Knowledge base **{name}** (`{id}`): {status}",
                    "Base de conocimiento **{name}** (`{id}`): {status}"),
    "tested_source": ("Data source **{name}** (`{id}`): {status}, type {type}",
                      "Origen de datos **{name}** (`{id}`): {status}, tipo {type}"),
    "bucket": ("Bucket `{bucket}`, inclusion prefixes: {prefixes}",
               "Bucket `{bucket}`, prefijos de inclusión: {prefixes}"),
    "none": ("none", "ninguno"),
    "profile_field": ("Profile", "Perfil"),
    "role_arn": ("Role ARN", "ARN del rol"),
    "external_id": ("External ID (optional)", "ID externo (opcional)"),
    "session_name": ("Session name (optional)", "Nombre de sesión (opcional)"),
    "id_help": ("Lowercase letters, digits and hyphens.",
                "Minúsculas, dígitos y guiones."),
    "add": ("Add connection", "Añadir conexión"),
    "save": ("Save changes", "Guardar cambios"),
    "saved": ("Saved the connection {id}.", "Conexión {id} guardada."),
    "delete": ("Delete", "Eliminar"),
    "delete_confirm": ("Delete the connection {id}? Syncs it started keep their history.",
                       "¿Eliminar la conexión {id}? Las sincronizaciones que inició conservan "
                       "su historial."),
    "delete_yes": ("Yes, delete {id}", "Sí, eliminar {id}"),
    "deleted": ("Deleted the connection {id}.", "Conexión {id} eliminada."),
})
PICK_KEY = "connections_pick"
# What the list picks on the next run (set after a change, before the pick list is drawn).
PICK_NEXT_KEY = "connections_pick_next"
DELETE_PENDING_KEY = "connections_delete_pending"
NOTICE_KEY = "connections_notice"
CLEAR_ADD_FORM_KEY = "connections_clear_add_form"


def form_key(prefix: str, field: str) -> str:
    """A form widget's key: `prefix` is "add", or "edit-<id>" (a fresh form per connection)."""
    return f"connection_form_{prefix}_{field}"


def render_connection_list(connections: list[Connection]) -> None:
    rows = [
        {
            TEXTS("id"): connection.id,
            TEXTS("name"): connection.name,
            TEXTS("region"): connection.target.region,
            TEXTS("knowledge_base"): connection.target.knowledge_base_id,
            TEXTS("data_source"): connection.target.data_source_id,
            TEXTS("credentials"): connection.credentials.get("type"),
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
        TEXTS("connection"), list(by_id), key=PICK_KEY, index=0 if by_id else None,
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
    if not st.button(TEXTS("test"), icon=":material/network_check:", key="connections_test"):
        return
    try:
        result = service.test(connection.id)
    except (AwsRequestError, ConnectionNotFoundError) as error:
        st.error(str(error), icon=":material/error:")
        return
    base, source = result["knowledgeBase"], result["dataSource"]
    lines = [
        TEXTS("tested_base", name=base["name"], id=base["id"], status=base["status"]),
        TEXTS("tested_source", name=source["name"], id=source["id"], status=source["status"],
              type=source["type"]),
    ]
    if "bucket" in source:
        prefixes = ", ".join(f"`{prefix}`" for prefix in source["inclusionPrefixes"])
        lines.append(TEXTS("bucket", bucket=source["bucket"], prefixes=prefixes or TEXTS("none")))
    st.success("  \n".join(lines), icon=":material/check_circle:")


def _credentials_fields(prefix: str, current: dict) -> dict:
    kind = st.selectbox(
        TEXTS("credentials"), CREDENTIAL_TYPES, key=form_key(prefix, "type"),
        index=CREDENTIAL_TYPES.index(current.get("type", "default")),
        format_func=TEXTS,
    )
    source = {"type": kind}
    if kind == "profile":
        source["profile"] = st.text_input(
            TEXTS("profile_field"), value=current.get("profile", ""),
            key=form_key(prefix, "profile"),
        )
    elif kind == "role":
        for field, label in (
            ("roleArn", TEXTS("role_arn")), ("externalId", TEXTS("external_id")),
            ("sessionName", TEXTS("session_name")),
        ):
            source[field] = st.text_input(
                label, value=current.get(field, ""), key=form_key(prefix, field)
            )
    return source


def _clear_form(prefix: str) -> None:
    """An empty form for the next connection, before its widgets are drawn. Values set, not
    deleted: a browser re-sends the values of inputs whose state was dropped."""
    for key in [key for key in st.session_state if str(key).startswith(form_key(prefix, ""))]:
        if key == form_key(prefix, "type"):
            st.session_state[key] = "default"
        elif isinstance(st.session_state[key], str):
            st.session_state[key] = ""


def render_form(service: Connections, connection: Connection | None) -> None:
    """Add (connection None) or edit one connection; on success the page reruns."""
    prefix = "add" if connection is None else f"edit-{connection.id}"
    if connection is None and st.session_state.pop(CLEAR_ADD_FORM_KEY, False):
        _clear_form(prefix)
    current = connection.to_dict() if connection else {}
    payload = {
        "id": st.text_input(
            TEXTS("id"), value=current.get("id", ""), key=form_key(prefix, "id"),
            disabled=connection is not None, help=TEXTS("id_help"),
        ),
    }
    for field, label in (
        ("name", TEXTS("name")), ("region", TEXTS("region")),
        ("knowledgeBaseId", TEXTS("knowledge_base_id")), ("dataSourceId", TEXTS("data_source_id")),
    ):
        payload[field] = st.text_input(label, value=current.get(field, ""),
                                       key=form_key(prefix, field))
    payload["credentials"] = _credentials_fields(prefix, current.get("credentials", {}))
    label = TEXTS("add") if connection is None else TEXTS("save")
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
    if connection is None:
        st.session_state[CLEAR_ADD_FORM_KEY] = True
    st.session_state[NOTICE_KEY] = TEXTS("saved", id=saved.id)
    st.session_state[PICK_NEXT_KEY] = saved.id
    st.rerun()


def render_delete(service: Connections, connection: Connection) -> None:
    """Delete, after a second click that names the connection."""
    if st.button(TEXTS("delete"), icon=":material/delete:", key="connections_delete"):
        st.session_state[DELETE_PENDING_KEY] = connection.id
    if st.session_state.get(DELETE_PENDING_KEY) != connection.id:
        return
    st.warning(TEXTS("delete_confirm", id=connection.id))
    if st.button(
        TEXTS("delete_yes", id=connection.id), type="primary", key="connections_delete_yes"
    ):
        st.session_state.pop(DELETE_PENDING_KEY, None)
        try:
            with suppress(ConnectionNotFoundError):  # deleted meanwhile: the same outcome
                service.delete(connection.id)
        except ConnectionInUseError as error:
            st.error(str(error), icon=":material/error:")
            return
        st.session_state[NOTICE_KEY] = TEXTS("deleted", id=connection.id)
        st.session_state[PICK_NEXT_KEY] = None
        st.rerun()
