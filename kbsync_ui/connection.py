"""The sidebar every page shares: which data source, and with which credentials: a saved
connection (the server's own identity, DESIGN.md) or an operator's access keys.

A chosen saved connection's id is kept in the URL (`?connection=<id>`), so a reload or a new tab
keeps it; keys never are.

Credentials stay in this browser session's widget state, in server memory; nothing echoes
them back (password fields, no value ever set from the server).
"""

from dataclasses import dataclass

import streamlit as st

from kbsync_core.catalog import Choice, list_data_sources, list_knowledge_bases
from kbsync_core.connections import credentials_for
from kbsync_core.errors import AwsRequestError
from kbsync_core.models import AwsCredentials, SyncTarget
from kbsync_core.runtime import Kbsync
from kbsync_core.validation import FIELD_LABELS, check_fields, validate_credentials, validate_target

# Regions where Bedrock Knowledge Bases are offered; any other region name may be typed.
BEDROCK_REGIONS = [
    "us-east-1", "us-east-2", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-southeast-1", "ap-southeast-2", "us-gov-west-1",
]
CATALOG_TTL_SECONDS = 60

# Widget keys, by the API field each one fills.
FIELD_KEYS = {
    "region": "connection_region",
    "knowledgeBaseId": "connection_knowledge_base_id",
    "dataSourceId": "connection_data_source_id",
    "accessKeyId": "connection_access_key_id",
    "secretAccessKey": "connection_secret_access_key",
    "sessionToken": "connection_session_token",
}
KNOWLEDGE_BASE_PICK_KEY = "connection_pick_knowledge_base"
CONNECTION_KEY = "connection_validated"
DATA_SOURCE_PICK_KEY = "connection_pick_data_source"
MODE_KEY = "connection_mode"
SAVED_KEY = "connection_saved"
URL_MISSING_KEY = "connection_url_missing"
USE_SAVED = "Use a saved connection"
USE_KEYS = "Use access keys"
QUERY_PARAM = "connection"


@dataclass(frozen=True)
class Connection:
    target: SyncTarget
    credentials: AwsCredentials
    # The saved connection the target and credentials come from; None for typed keys.
    connection_id: str | None = None


def _form_values() -> dict:
    return {field: st.session_state.get(key) for field, key in FIELD_KEYS.items()}


def current_connection() -> Connection | None:
    """The connection the sidebar validated in this run, when every field is valid."""
    return st.session_state.get(CONNECTION_KEY)


def _connection(values: dict, problems: dict, allow_ambient: bool) -> Connection | None:
    if problems:
        return None
    return Connection(
        validate_target(values), validate_credentials(values, allow_ambient=allow_ambient)
    )


def _prefill(kbsync: Kbsync) -> None:
    suggested = kbsync.suggested_target  # the sandbox's sample data source, on the sandbox
    if suggested is None:
        st.session_state.setdefault(FIELD_KEYS["region"], None)
        return
    st.session_state.setdefault(FIELD_KEYS["region"], suggested.region)
    st.session_state.setdefault(FIELD_KEYS["knowledgeBaseId"], suggested.knowledge_base_id)
    st.session_state.setdefault(FIELD_KEYS["dataSourceId"], suggested.data_source_id)


def _problem(problems: dict[str, str], field: str) -> None:
    """The core's message for a field, under it; silence for a field not typed in yet."""
    message = problems.get(field)
    if message and message != "Required.":
        st.caption(f":red[{message}]")


def _catalog_answer(load) -> tuple[list[Choice], str | None]:
    """The choices, or AWS's reason for refusing them: both are cached, so a refusal is not
    asked again on every rerun of the sidebar."""
    try:
        return load(), None
    except AwsRequestError as error:
        return [], str(error)


@st.cache_data(ttl=CATALOG_TTL_SECONDS, show_spinner=False)
def _knowledge_bases(_kbsync: Kbsync, _credentials: AwsCredentials, cache_key, region):
    return _catalog_answer(lambda: list_knowledge_bases(_kbsync.clients, _credentials, region))


@st.cache_data(ttl=CATALOG_TTL_SECONDS, show_spinner=False)
def _data_sources(_kbsync: Kbsync, _credentials: AwsCredentials, cache_key, region, kb_id):
    return _catalog_answer(
        lambda: list_data_sources(_kbsync.clients, _credentials, region, kb_id)
    )


def _copy_pick(pick_key: str, field: str) -> None:
    picked = st.session_state.get(pick_key)
    if picked:
        st.session_state[FIELD_KEYS[field]] = picked


def _pick_list(label: str, load, pick_key: str, field: str) -> None:
    """A pick list of what the account has, beside manual entry; an AWS error says why not."""
    choices, refusal = load()
    if refusal:
        st.caption(f":orange[Could not list them: {refusal}]")
        return
    if not choices:
        st.caption("None found in this account and region.")
        return
    labels = {choice.id: choice.label for choice in choices}
    st.selectbox(
        label, list(labels), index=None, format_func=labels.get, key=pick_key,
        placeholder="Choose from the account…", on_change=_copy_pick, args=(pick_key, field),
    )


def _from_url(saved: dict) -> None:
    """On a session's first run, the connection the URL names (a reload, a new tab, a link)."""
    if MODE_KEY in st.session_state:
        return
    st.session_state[MODE_KEY] = USE_KEYS
    wanted = st.query_params.get(QUERY_PARAM)
    if wanted:
        st.session_state[MODE_KEY] = USE_SAVED
        if wanted in saved:
            st.session_state[SAVED_KEY] = wanted
        else:
            st.session_state[URL_MISSING_KEY] = wanted


def _saved_connection(saved: dict) -> Connection | None:
    with st.sidebar:
        missing = st.session_state.pop(URL_MISSING_KEY, None)
        if missing:
            st.caption(f":orange[The link names the connection {missing}, which does not exist.]")
        if st.session_state.get(SAVED_KEY) not in saved:
            st.session_state.pop(SAVED_KEY, None)
        chosen = st.selectbox(
            "Saved connection", list(saved), index=None, key=SAVED_KEY,
            format_func=lambda identifier: f"{identifier} — {saved[identifier].name}",
            placeholder="Choose a connection" if saved else "No connections saved yet",
        )
        if chosen is None:
            st.query_params.pop(QUERY_PARAM, None)
            return None
        connection = saved[chosen]
        target = connection.target
        st.caption(
            f"Data source `{target.data_source_id}` of knowledge base "
            f"`{target.knowledge_base_id}` in {target.region}, with the server's "
            f"{connection.credentials['type']} credentials."
        )
    st.query_params[QUERY_PARAM] = chosen
    return Connection(target, credentials_for(connection), connection.id)


def _keep_typed_fields() -> None:
    """Streamlit forgets the value of a widget it does not draw in a run; writing the values
    back as session state keeps what the operator typed (keys included, in this session's
    memory as before) for when they switch back to access keys."""
    for key in FIELD_KEYS.values():
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def render_connection_sidebar(kbsync: Kbsync) -> Connection | None:
    saved = {connection.id: connection for connection in kbsync.connections.list()}
    _from_url(saved)
    with st.sidebar:
        st.subheader("Connection")
        mode = st.radio(
            "Connect with", [USE_SAVED, USE_KEYS], key=MODE_KEY, label_visibility="collapsed"
        )
    if mode == USE_SAVED:
        _keep_typed_fields()
        connection = _saved_connection(saved)
    else:
        st.query_params.pop(QUERY_PARAM, None)
        connection = _keys_connection(kbsync)
    # Kept in this session's memory (beside the widgets that hold the same keys) for the page
    # that runs next: validated once per run.
    st.session_state[CONNECTION_KEY] = connection
    return connection


def _keys_connection(kbsync: Kbsync) -> Connection | None:
    _prefill(kbsync)
    values = _form_values()
    allow_ambient = kbsync.settings.allow_ambient_credentials
    problems = check_fields(values, allow_ambient=allow_ambient)
    credentials = None
    # The pick lists need a region, and keys validate_credentials takes (it raises on any key
    # field check_fields refused).
    credential_fields = ("accessKeyId", "secretAccessKey", "sessionToken", "region")
    if not any(field in problems for field in credential_fields):
        credentials = validate_credentials(values, allow_ambient=allow_ambient)

    with st.sidebar:
        st.selectbox(
            FIELD_LABELS["region"], BEDROCK_REGIONS, key=FIELD_KEYS["region"],
            accept_new_options=True, placeholder="Choose or type a region",
        )
        _problem(problems, "region")
        st.text_input(FIELD_LABELS["knowledgeBaseId"], key=FIELD_KEYS["knowledgeBaseId"])
        _problem(problems, "knowledgeBaseId")
        if credentials is not None:
            _pick_list(
                "Knowledge bases in this account",
                lambda: _knowledge_bases(kbsync, credentials, credentials.cache_key,
                                         values["region"]),
                KNOWLEDGE_BASE_PICK_KEY, "knowledgeBaseId",
            )
        st.text_input(FIELD_LABELS["dataSourceId"], key=FIELD_KEYS["dataSourceId"])
        _problem(problems, "dataSourceId")
        if credentials is not None and "knowledgeBaseId" not in problems:
            _pick_list(
                "Data sources of this knowledge base",
                lambda: _data_sources(kbsync, credentials, credentials.cache_key,
                                      values["region"], values["knowledgeBaseId"].strip()),
                DATA_SOURCE_PICK_KEY, "dataSourceId",
            )
        st.text_input(
            FIELD_LABELS["accessKeyId"], key=FIELD_KEYS["accessKeyId"], autocomplete="off"
        )
        _problem(problems, "accessKeyId")
        st.text_input(
            FIELD_LABELS["secretAccessKey"], key=FIELD_KEYS["secretAccessKey"],
            type="password", autocomplete="off",
        )
        _problem(problems, "secretAccessKey")
        st.text_input(
            FIELD_LABELS["sessionToken"], key=FIELD_KEYS["sessionToken"], type="password",
            autocomplete="off", help="Only for temporary credentials (keys starting ASIA).",
        )
        _problem(problems, "sessionToken")
        if kbsync.settings.uses_sandbox:
            st.caption(
                "On the sandbox any keys work, e.g. AKIAIOSFODNN7EXAMPLE, or test / test "
                "as on LocalStack."
            )
    return _connection(values, problems, allow_ambient)
